-- Support tickets that passed type checks, without any free-text column.
-- Grain: one row per input row. Key: source_file, row_number.
select
    ticket_id,
    user_id,
    site_id,
    created_at,
    solved_at,
    status,
    priority,
    category,
    channel,
    source_file,
    row_number
from landing.tickets
where reason is null
