"""An appointment as an iCalendar file (RFC 5545): one VEVENT, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from bayaffairs.appointments.model import Appointment, Centre, Service

PRODID = "-//bayaffairs//appointments//EN"


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11): backslash, semicolon, comma, newline."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Lines longer than 75 octets are folded with CRLF and a space (3.1), never inside a
    UTF-8 sequence."""
    out: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not out else 74):
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(
    appointment: Appointment, centre: Centre, service: Service, language: str, now: datetime, host: str
) -> str:
    status = "CANCELLED" if appointment.status in ("cancelled", "rescheduled") else "CONFIRMED"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{appointment.id}@{host}",
        f"SEQUENCE:{appointment.qr_version}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(appointment.start)}",
        f"DTEND:{_utc(appointment.end)}",
        f"SUMMARY:{escape(service.name.get(language) + ' (' + appointment.reference + ')')}",
        f"LOCATION:{escape(centre.name.get(language) + ', ' + centre.address.get(language))}",
        f"DESCRIPTION:{escape('Reference ' + appointment.reference + '. Show the QR code at the counter.')}",
        f"STATUS:{status}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
