"""Hengqin's services at remote video counters in Macao, booked through us, pushed to Hengqin."""
