-- Every input row the build could not use, with the reason, so nothing is dropped silently.
-- Grain: one row per rejected input row. Key: source_file, row_number.
with unreadable as (
    select source_file, row_number, reason, raw from landing.rejects
),

mistyped as (
    select source_file, row_number, reason, raw from landing.sites where reason is not null
    union all
    select source_file, row_number, reason, raw from landing.users where reason is not null
    union all
    select source_file, row_number, reason, raw from landing.tickets where reason is not null
    union all
    select source_file, row_number, reason, raw from landing.trainings where reason is not null
    union all
    select source_file, row_number, reason, raw from landing.features where reason is not null
),

inconsistent as (
    select source_file, row_number, reject_reason as reason,
        to_json(struct_pack(site_id, name := site_name, region, go_live_date, licensed_seats, owner))::varchar as raw
    from core.site_checks where reject_reason is not null
    union all
    select source_file, row_number, reject_reason,
        to_json(struct_pack(user_id, site_id, role, invited_at, deactivated_at))::varchar
    from core.user_checks where reject_reason is not null
    union all
    select source_file, row_number, reject_reason,
        to_json(struct_pack(ticket_id, created_at, user_id, site_id, solved_at, status, priority, category, channel))::varchar
    from core.ticket_checks where reject_reason is not null
    union all
    select source_file, row_number, reject_reason,
        to_json(struct_pack(site_id, session_date, user_id, kind, attended))::varchar
    from core.training_checks where reject_reason is not null
    union all
    select source_file, row_number, reject_reason,
        to_json(struct_pack(event_name, feature, is_key_action))::varchar
    from core.feature_checks where reject_reason is not null
),

events as (
    -- the events' own rows, as checked here or by the adoption rollup that counted them
    select source_file, row_number, reason, raw from core.event_quarantine
    union all
    select source_file, row_number, reason, raw from landing.carried_quarantine
),

final as (
    select * from unreadable
    union all
    select * from mistyped
    union all
    select * from inconsistent
    union all
    select * from events
)

select * from final
order by source_file, row_number
