"""What a run means: metrics, breakdowns, charts and the HTML report."""
