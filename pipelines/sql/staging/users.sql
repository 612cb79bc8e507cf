-- Users that passed type checks, as loaded.
-- Grain: one row per input row. Key: source_file, row_number.
select
    user_id,
    site_id,
    role,
    invited_at,
    deactivated_at,
    source_file,
    row_number
from landing.users
where reason is null
