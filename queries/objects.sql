-- objects: the S3 objects ("$path") holding the records `report` and `timeline` read for some
-- access keys, roles and sessions in the window. trailhound then streams just those objects through
-- its own pipeline, which keeps what it needs: a superset of objects is harmless, a missing one is not,
-- so every test here is wider than trailhound's own selection.
-- Parameters (positional, Athena ExecutionParameters), in this order:
--   1-12  as in queries/_events.sql: partition days, accounts and regions; the event-time window
--         [since, until) in epoch milliseconds; the records' own accounts and regions
--   13    access keys, '/'-separated ('' for none)
--   14    role names (not ARNs), '/'-separated ('' for none)
--   15    session names, '/'-separated ('' for none)
--   ('/' is in no key, role name or session name, so it cannot split one.)
-- An object is kept when one of its records in the window
--   - was made with one of the keys, or minted or created one of them (the key's provenance, the
--     chain's minting edges, a timeline's issued sessions);
--   - was made by a session of one of the roles, assumed one of them, or named one of them in its
--     request (PutRolePolicy/DeleteRolePolicy: a timeline's revocations);
--   - was made by, or minted, a session of one of the names.
-- Every copy of a record is kept (no de-duplication here): trailhound de-duplicates as it reads.
WITH scoped AS (
    SELECT
        "$path" AS object_path,
        try(CAST(to_unixtime(from_iso8601_timestamp(eventtime)) * 1000 AS BIGINT)) AS time_ms,
        coalesce(nullif(recipientaccountid, ''), useridentity.accountid, '') AS account_id,
        coalesce(awsregion, '') AS aws_region,
        coalesce(useridentity.accesskeyid, '') AS access_key_id,
        coalesce(try(json_extract_scalar(responseelements, '$.credentials.accessKeyId')), '') AS minted_key,
        coalesce(try(json_extract_scalar(responseelements, '$.accessKey.accessKeyId')), '') AS created_key,
        -- A role's name is what follows the last '/' of its ARN (paths included), as trailhound reads it.
        coalesce(regexp_extract(useridentity.sessioncontext.sessionissuer.arn, '([^/]*)$', 1), '') AS issuer_role,
        coalesce(regexp_extract(try(json_extract_scalar(requestparameters, '$.roleArn')), '([^/]*)$', 1), '')
            AS assumed_role,
        coalesce(try(json_extract_scalar(requestparameters, '$.roleName')), '') AS named_role,
        coalesce(regexp_extract(useridentity.arn, ':assumed-role/[^/]*/(.*)', 1), '') AS arn_session,
        coalesce(regexp_extract(useridentity.principalid, ':(.*)', 1), '') AS id_session,
        coalesce(try(json_extract_scalar(requestparameters, '$.roleSessionName')), '') AS asked_session,
        coalesce(regexp_extract(try(json_extract_scalar(responseelements, '$.assumedRoleUser.assumedRoleId')),
                                ':(.*)', 1), '') AS minted_session
    FROM "cloudtrail_logs"
    WHERE "timestamp" BETWEEN ? AND ?
      AND (? = '' OR contains(split(?, ','), account))
      AND (? = '' OR contains(split(?, ','), region))
),
kept AS (
    SELECT * FROM scoped
    WHERE time_ms >= ? AND time_ms < ?
      AND (? = '' OR contains(split(?, ','), account_id))
      AND (? = '' OR contains(split(?, ','), aws_region))
),
wanted AS (
    SELECT split(?, '/') AS want_keys, split(?, '/') AS want_roles, split(?, '/') AS want_sessions
)
SELECT DISTINCT object_path
FROM kept CROSS JOIN wanted
WHERE (access_key_id <> '' AND contains(want_keys, access_key_id))
   OR (minted_key <> '' AND contains(want_keys, minted_key))
   OR (created_key <> '' AND contains(want_keys, created_key))
   OR (issuer_role <> '' AND contains(want_roles, issuer_role))
   OR (assumed_role <> '' AND contains(want_roles, assumed_role))
   OR (named_role <> '' AND contains(want_roles, named_role))
   OR (arn_session <> '' AND contains(want_sessions, arn_session))
   OR (id_session <> '' AND contains(want_sessions, id_session))
   OR (asked_session <> '' AND contains(want_sessions, asked_session))
   OR (minted_session <> '' AND contains(want_sessions, minted_session))
ORDER BY object_path
