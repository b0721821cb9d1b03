"""Wire models shared by kiosk and cloud: pydantic only, nothing heavier."""
