"""Delivery of alerts: email over SMTP and Standard Webhooks, French and English templates."""
