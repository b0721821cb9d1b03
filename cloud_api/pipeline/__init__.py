"""The conversation pipeline: summaries, sentiment, member analytics, churn risk, alerts."""
