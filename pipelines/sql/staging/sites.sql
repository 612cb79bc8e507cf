-- Sites that passed type checks, as loaded.
-- Grain: one row per input row. Key: source_file, row_number.
select
    site_id,
    name as site_name,
    region,
    go_live_date,
    licensed_seats,
    lower(owner) as owner,
    source_file,
    row_number
from landing.sites
where reason is null
