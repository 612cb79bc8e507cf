-- Usable training rows: with a user_id, that user's attendance (attended defaults to
-- true); without, a whole-site session that day.
-- Grain: one row per input row. Key: source_file, row_number.
select
    site_id,
    user_id,
    session_date,
    kind,
    coalesce(attended, true) as attended,
    user_id is null as is_site_session,
    source_file,
    row_number
from core.training_checks
where reject_reason is null
order by site_id, session_date, user_id nulls first, source_file, row_number
