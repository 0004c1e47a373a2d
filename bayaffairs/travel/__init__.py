"""Cross-border travel: carriers timetables, bookings, tickets, boarding and refunds."""
