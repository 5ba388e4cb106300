"""What the served pages read besides `seed_bench`'s issues, set-based: an SLA cycle and the
status stays of every seeded issue, and the bench projects' custom fields with their values."""

from customfields.models import CustomField, FieldKind
from customfields.services import create_custom_field
from projects.models import Project

# Custom fields of the bench projects (customfields): each project has an "Environment"
# single choice (slug env) and an "Affected customers" number; values on nine issues in ten
# (env: 40 % Production, 30 % Staging, 20 % Local), set-based like the cycles below.
CUSTOM_VALUES_SQL = """
INSERT INTO customfields_customfieldvalue (issue_id, field_id, text, option_id)
SELECT i.id, f.id, '', o.id
FROM issues_issue i
JOIN customfields_customfield f ON f.project_id = i.project_id AND f.slug = 'env'
JOIN customfields_customfieldoption o ON o.field_id = f.id AND o.label =
    CASE WHEN i.id %% 10 < 4 THEN 'Production' WHEN i.id %% 10 < 7 THEN 'Staging'
         ELSE 'Local' END
WHERE i.project_id = ANY(%(projects)s) AND i.id %% 10 <> 9
  AND NOT EXISTS (SELECT 1 FROM customfields_customfieldvalue v WHERE v.field_id = f.id);
INSERT INTO customfields_customfieldvalue (issue_id, field_id, text, number)
SELECT i.id, f.id, '', (i.id * 7919) %% 1000
FROM issues_issue i
JOIN customfields_customfield f ON f.project_id = i.project_id
    AND f.slug = 'affected_customers'
WHERE i.project_id = ANY(%(projects)s) AND i.id %% 10 <> 9
  AND NOT EXISTS (SELECT 1 FROM customfields_customfieldvalue v WHERE v.field_id = f.id);
"""

# Cycles and stays for the seeded issues (the dashboard, the triage queue and the SLA box
# read them): one cycle per issue, finished for fixed/closed ones, and the stays up to the
# issue's status. Set-based, seconds for 100,000 issues.
CYCLES_SQL = """
INSERT INTO workflows_slacycle (
    issue_id, project_id, number, policy_id, business_hours, response_target_seconds,
    resolution_target_seconds,
    started_at, responded_at, response_due_at, resolution_due_at, stopped_at, outcome,
    response_outcome, working_seconds, waiting_seconds, response_seconds
)
SELECT i.id, i.project_id, 1, pol.id, i.severity < 4, 14400, 144000, i.created_at,
    CASE WHEN i.status <> 'new' THEN i.created_at + (i.id %% 300) * interval '1 minute' END,
    i.created_at + interval '4 hours',
    coalesce(i.resolution_due_at, i.created_at + interval '5 days'),
    CASE WHEN i.status IN ('closed', 'fixed')
         THEN i.created_at + (1 + i.id %% 150) * interval '1 hour' END,
    CASE WHEN i.status IN ('closed', 'fixed')
         THEN CASE WHEN i.id %% 5 = 0 THEN 'missed' ELSE 'met' END ELSE '' END,
    CASE WHEN i.status <> 'new' THEN CASE WHEN i.id %% 7 = 0 THEN 'missed' ELSE 'met' END
         ELSE '' END,
    CASE WHEN i.status IN ('closed', 'fixed') THEN 3600 * (1 + i.id %% 40) END,
    CASE WHEN i.status IN ('closed', 'fixed') THEN 600 * (i.id %% 12) END,
    CASE WHEN i.status <> 'new' THEN 60 * (i.id %% 300) END
FROM issues_issue i
JOIN LATERAL (SELECT id FROM workflows_slapolicy p WHERE p.project_id = i.project_id
              ORDER BY version DESC LIMIT 1) AS pol ON true
WHERE i.project_id = ANY(%(projects)s)
  AND NOT EXISTS (SELECT 1 FROM workflows_slacycle c WHERE c.issue_id = i.id)
"""
PERIODS_SQL = """
INSERT INTO workflows_statusperiod (issue_id, project_id, cycle, status, entered_at, left_at)
SELECT i.id, i.project_id, 1, s.status,
    i.created_at + s.k * (1 + i.id %% 9) * interval '1 hour',
    CASE WHEN s.k < s.last THEN i.created_at + (s.k + 1) * (1 + i.id %% 9) * interval '1 hour' END
FROM issues_issue i
CROSS JOIN LATERAL (
    SELECT k, (ARRAY['new','assigned','revise','retest','fixed','closed'])[k + 1] AS status,
        array_position(ARRAY['new','assigned','revise','retest','fixed','closed'],
                       i.status::text) - 1 AS last
    FROM generate_series(0, 5) AS k
) AS s
WHERE i.project_id = ANY(%(projects)s) AND s.k <= s.last
  AND NOT EXISTS (SELECT 1 FROM workflows_statusperiod p WHERE p.issue_id = i.id)
"""


def _bench_custom_fields(project: Project) -> None:
    if CustomField.objects.filter(project=project).exists():
        return
    create_custom_field(
        project,
        name="Environment",
        slug="env",
        kind=FieldKind.CHOICE,
        options="Production\nStaging\nLocal",
    )
    create_custom_field(
        project, name="Affected customers", slug="affected_customers", kind=FieldKind.NUMBER
    )
