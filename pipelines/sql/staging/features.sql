-- The optional map from event names to product features, as loaded.
-- Grain: one row per input row. Key: source_file, row_number.
select
    event_name,
    nullif(trim(feature), '') as feature,
    is_key_action,
    source_file,
    row_number
from landing.features
where reason is null
