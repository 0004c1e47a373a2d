-- Fare subsidy credits in settlement files (issue 9): a rider's month under a monthly subsidy
-- (Hong Kong's fare subsidy) is a `credit` line of each operator's part, in the file of the first
-- day after the month; journey_id holds the rider month's reference (crd_...), original_date the
-- month's first day. Later changes are reversal and restatement lines, as for journeys.
ALTER TABLE settlement_lines DROP CONSTRAINT settlement_lines_kind_check;
ALTER TABLE settlement_lines ADD CONSTRAINT settlement_lines_kind_check
    CHECK (kind IN ('journey', 'credit', 'reversal', 'restatement'));
