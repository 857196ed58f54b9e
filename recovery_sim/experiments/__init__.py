"""Many runs: paired comparisons on common random numbers, sweeps, executors, stores."""
