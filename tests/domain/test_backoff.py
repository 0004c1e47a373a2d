from datetime import timedelta

from bayaffairs.backoff import doubling

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def test_the_wait_starts_at_the_first_and_doubles_with_each_failed_try() -> None:
    assert [doubling(MINUTE, n, HOUR) for n in (1, 2, 3, 4)] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]


def test_the_wait_never_passes_the_ceiling_however_many_tries_failed() -> None:
    assert doubling(MINUTE, 7, HOUR) == HOUR
    assert doubling(MINUTE, 10_000, HOUR) == HOUR
