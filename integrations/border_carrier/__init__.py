"""Local border carriers configured entirely by their config block (timetable, fares, refunds)."""
