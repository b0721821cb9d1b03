"""API routes, one module per audience: kiosk, auth, kiosk management."""
