"""What the status of a user rests on besides weekly counts: dates, tickets, training."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import polars as pl

FACTS_SQL = """
with activity as (
    -- $window_end is a midnight, so the days before it hold exactly the events before it
    select user_id, min(first_event_at) as first_active_at, max(last_event_at) as last_active_at
    from core.event_days
    where event_date < $window_end
    group by user_id
),

tickets as (
    select user_id, max(created_at) as last_ticket_at
    from core.tickets
    where user_id is not null and created_at < $window_end
    group by user_id
),

trained as (
    -- attended a session themselves, or their site had a whole-site session
    select distinct users.user_id
    from core.users as users
    inner join core.trainings as trainings
        on trainings.site_id = users.site_id
        and (trainings.user_id = users.user_id or trainings.is_site_session)
    where trainings.attended
        and trainings.session_date < $window_end
        and trainings.session_date >= users.invited_at::date
)

select
    users.user_id,
    users.site_id,
    users.role,
    users.invited_at,
    users.deactivated_at,
    activity.first_active_at,
    activity.last_active_at,
    tickets.last_ticket_at,
    trained.user_id is not null as trained
from core.users as users
left join activity on users.user_id = activity.user_id
left join tickets on users.user_id = tickets.user_id
left join trained on users.user_id = trained.user_id
where users.invited_at < $window_end
order by users.user_id
"""

TICKETS_SQL = """
select user_id, created_at, category
from core.tickets
where user_id is not null and created_at < $window_end
"""


def _window_end(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(weeks=1), datetime.min.time())


def user_facts(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Users invited by the end of the as_of week, with what they had done by then."""
    return con.sql(FACTS_SQL, params={"window_end": _window_end(as_of)}).pl()


def user_tickets(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    return con.sql(TICKETS_SQL, params={"window_end": _window_end(as_of)}).pl()
