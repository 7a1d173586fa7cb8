-- The actions consumer checks for an earlier dead letter of the same event before it writes
-- one, and operators read dead letters back by lead.
create index action_dead_letters_by_event on action_dead_letters (event_id);

create index action_dead_letters_by_lead on action_dead_letters (lead_id)
  where lead_id is not null;
