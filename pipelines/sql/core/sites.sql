-- The sites the build knows: those declared in the sites input or, when there is none,
-- every site a user belongs to.
-- Grain: one row per site. Key: site_id.
with declared as (
    select site_id, site_name, region, go_live_date, licensed_seats, owner
    from core.site_checks
    where reject_reason is null
),

named_by_users as (
    select distinct
        site_id,
        null::varchar as site_name,
        null::varchar as region,
        null::date as go_live_date,
        null::bigint as licensed_seats,
        null::varchar as owner
    from staging.users
    where not exists (select 1 from staging.sites)
),

final as (
    select * from declared
    union all
    select * from named_by_users
)

select * from final
order by site_id
