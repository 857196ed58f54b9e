"""The subscription-billing domain: enums, email types, decline tables, calendar, rules R1-R13."""
