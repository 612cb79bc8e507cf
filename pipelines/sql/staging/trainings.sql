-- Training sessions and attendance rows that passed type checks, as loaded.
-- Grain: one row per input row. Key: source_file, row_number.
select
    site_id,
    user_id,
    session_date,
    kind,
    attended,
    source_file,
    row_number
from landing.trainings
where reason is null
