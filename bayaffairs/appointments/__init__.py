"""Counter appointments at government service centres: catalogue, slots, bookings, the counter."""
