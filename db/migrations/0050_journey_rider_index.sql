-- One index by rider and end time for a rider's journeys in a window (issue 15, throughput).
--
-- journeys_last_leg (user_id, end DESC) WHERE completed or repaired, and journeys_rider_month
-- (user_id, operator, end) WHERE priced, were both keyed on the rider's id, a random value: each
-- journey written touched a page of each. One index (user_id, end DESC) over all journeys serves
-- both, the operator, status and price then filtered within the rider's window:
-- * the previous leg (record_scans(), later_legs()) and the double tap look-up (a window of
--   seconds at one stop);
-- * a rider's month under a fare product (fare_products.month(), the journeys of all operators
--   of that month read, not only the product's), and the month's product spend
--   (fare_products.spend(): `product_spend IS NOT NULL` did not imply journeys_rider_month's
--   predicate, so it read all of a rider's journeys).
-- A bus journey is now written to 9 indexes, 4 of them on random keys (was 10 and 5;
-- tests/transit/test_journey_indexes.py). The double-tap look-up reads it in its own order, as it
-- read journeys_last_leg (tests/transit/test_double_tap_plan.py).
DROP INDEX journeys_last_leg;
DROP INDEX journeys_rider_month;
CREATE INDEX journeys_rider_ended ON journeys (user_id, (coalesce(exit_at, entry_at)) DESC);
