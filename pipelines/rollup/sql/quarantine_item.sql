-- The event rows the rollup could not use, with their original file, row, reason and values,
-- for the build to add to its quarantine: the unreadable rows of the event files (the reader's
-- rejects), then the mistyped and inconsistent ones.
-- Grain: one row per rejected event row. Key: source_file, row_number.
with unreadable as (
    select rejects.source_file, rejects.row_number, rejects.reason, rejects.raw
    from landing.rejects as rejects
    semi join rollup.event_files as event_files on rejects.source_file = event_files.source_file
),

final as (
    select * from unreadable
    union all
    select source_file, row_number, reason, raw from core.event_quarantine
)

select * from final
