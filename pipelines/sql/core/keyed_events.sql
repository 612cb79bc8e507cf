-- materialized: view
-- Every usable event row with its event_key: a hash of its event_id, or of the whole row
-- where it has none, so that a later build can tell a repeat of an event counted now
-- without reading this build's files again (the table event_keys keeps them).
-- Grain: one row per usable input row. Key: source_file, row_number.
select
    *,
    case
        when event_id is not null then hash(event_id)
        else hash(user_id, event_name, occurred_at, reported_site_id, properties)
    end as event_key
from core.event_checks
where reject_reason is null
