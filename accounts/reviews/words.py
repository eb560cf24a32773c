"""The words of access review campaigns, said once: messages, email texts, audit reasons."""

REVIEW_ACTOR = "review"  # the process that closes campaigns and applies their decisions, as audited

SAID = {
    "started": "Access review #{pk} started: {items} for {reviewers}, until {deadline}.",
    "decided": "{decisions} recorded ({revoke} to revoke, applied in the background).",
    "no_applications": "Choose at least one application to review. Nothing was started.",
    "deadline_past": "The deadline must be in the future. Nothing was started.",
    "no_reviewers": "Choose named staff, or the applications' owners, to review. Nothing was started.",
    "reviewer_not_staff": "{email} no longer holds staff standing and cannot review. Nothing was started.",
    "nothing_to_review": "Nobody holds these applications: there is nothing to review. Nothing was started.",
    "self_review": "Nobody certifies their own access: {email}'s item goes to another reviewer. Nothing was decided.",
    "after_deadline": "This campaign's deadline has passed: decisions are closed. Nothing was decided.",
    "not_yours": "This item is not in your worklist. Nothing was decided.",
    "no_items": "Choose at least one item. Nothing was decided.",
    "unknown_items": "Some chosen items are not in this campaign. Nothing was decided.",
    "already_decided": "{email}'s {application} was already decided. Nothing was decided.",
    "invalid": "Check the form: {errors}",
}
CHANGED = {
    "gone": "access already gone",
    "user_gone": "user no longer in the directory",
    "role": "role now {role}",
}
APPLIED = {
    "revoked": "Revoked {application}; signed out everywhere.",
    "revoked_sessions": "Revoked {application}, but signing out failed: {error}",
    "already_gone": "{application} was already gone when the decision was applied: nothing to revoke.",
    "user_gone": "The user is no longer in the directory: nothing to revoke.",
    "kept": "Kept.",
}
UNANSWERED_SAID = {"revoke": "revoked", "keep": "kept"}
DECISION_REASON = "Access review #{pk}: {decision} decided by {who}{because}"
DEADLINE_REASON = "Access review #{pk}: unanswered at the deadline, {decision} as the campaign said"
REMINDER_SUBJECT = "Access review #{pk}: {count} items wait for your decision (deadline {deadline})"
REMINDER_BODY = (
    'Hello,\n\nthe access review "{name}" (#{pk}) closes at {deadline} UTC. {count} items in your worklist '
    "are still undecided; unanswered items will be {unanswered} at the deadline.\n\nYour worklist: {url}\n"
)
