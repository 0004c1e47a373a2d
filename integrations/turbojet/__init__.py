"""TurboJET: the Hong Kong - Macao ferry, booked through its HTTP booking API."""
