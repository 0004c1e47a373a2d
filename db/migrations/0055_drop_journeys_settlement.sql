-- One index fewer on every journey written (issue 15, throughput: the offline drain writes a
-- priced journey per bus tap, and each index it belongs to is written with it).
--
-- journeys_settlement (operator, end) WHERE priced (0003) was left beside the two that 0040 split
-- it into: journeys_settlement_own (operator, end, id) for journeys without share weights and
-- journeys_through_settlement (end, id) for those with. Its last reader, the month's spends of a
-- fare subsidy (db/queries/settlements.py, _MONTH_SPENDS), now reads the two parts through those
-- (tests/transit/test_journey_indexes.py); settled_between(), which read it too, had no caller and
-- is gone. A bus journey is now written to 8 indexes, 4 of them on random keys.
DROP INDEX journeys_settlement;
