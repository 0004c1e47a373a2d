"""Counter agencies whose services and centres are described entirely by their config block."""
