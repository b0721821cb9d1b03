"""Stewardship of members' data: export one member as JSON, erase one member entirely."""
