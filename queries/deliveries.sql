-- deliveries: records that minted a key (AssumeRole, AssumeRoleWithWebIdentity, no error).
-- Which of them deliver credentials to a workload (EC2, Lambda, ECS, EKS...) is decided in Rust.
-- identityProvider is not a column of AWS's documented table: '' here, and the Rust side reads the
-- EKS issuer from the principal id instead (it carries the OIDC provider).
-- Shared head of every aggregate query (kept verbatim at the top of each file; a test checks it).
-- Parameters (positional, Athena ExecutionParameters), in this order:
--   1, 2  first and last partition day, 'yyyy/MM/dd' (the window widened by the delivery margin)
--   3, 4  accounts, comma-separated ('' for all): the same value twice
--   5, 6  regions, comma-separated ('' for all): the same value twice
--   7, 8  event time window in epoch milliseconds: [since, until)
--   9, 10 accounts again, 11, 12 regions again: records are kept by their own account
--         (recipientAccountId, else userIdentity.accountId) and awsRegion too, as trailhound's
--         --account and --region keep them, whatever folder they were delivered to
-- Every value the Rust detector reads is computed here as trailhound's normalizer computes it
-- (src/decode/normalize.rs): absent fields are '', times are epoch milliseconds, NULL when unreadable.
WITH scoped AS (
    SELECT
        "$path" AS object_path,
        coalesce(eventid, '') AS event_id,
        try(CAST(to_unixtime(from_iso8601_timestamp(eventtime)) * 1000 AS BIGINT)) AS time_ms,
        coalesce(nullif(recipientaccountid, ''), useridentity.accountid, '') AS account_id,
        coalesce(awsregion, '') AS aws_region,
        coalesce(eventsource, '') AS event_source,
        coalesce(eventname, '') AS event_name,
        coalesce(errorcode, '') AS error_code,
        coalesce(sourceipaddress, '') AS source_ip,
        coalesce(useragent, '') AS user_agent,
        coalesce(vpcendpointid, '') AS vpc_endpoint_id,
        coalesce(vpcendpointaccountid, '') AS vpc_endpoint_account_id,
        coalesce(readonly IN ('false', 'False', 'FALSE', '0'), false) AS read_only_false,
        coalesce(useridentity.type, '') AS principal_type,
        coalesce(useridentity.principalid, '') AS principal_id,
        coalesce(useridentity.arn, '') AS principal_arn,
        coalesce(useridentity.username, '') AS user_name,
        coalesce(useridentity.accesskeyid, '') AS access_key_id,
        coalesce(useridentity.invokedby, '') AS invoked_by,
        coalesce(useridentity.sessioncontext.ec2roledelivery, '') AS ec2_role_delivery,
        -- How an S3 call was signed: `QueryString` for a presigned URL.
        CASE WHEN eventsource IN ('s3.amazonaws.com', 's3express.amazonaws.com', 's3-object-lambda.amazonaws.com')
             THEN coalesce(try(json_extract_scalar(additionaleventdata, '$.AuthenticationMethod')), '')
             ELSE '' END AS auth_method,
        -- The issuer is a role only when it says so (or its ARN is a role's).
        CASE WHEN useridentity.sessioncontext.sessionissuer.type = 'Role'
                  OR strpos(useridentity.sessioncontext.sessionissuer.arn, ':role/') > 0
             THEN coalesce(useridentity.sessioncontext.sessionissuer.arn, '') ELSE '' END AS role_arn,
        CASE WHEN useridentity.sessioncontext.sessionissuer.type = 'Role'
                  OR strpos(useridentity.sessioncontext.sessionissuer.arn, ':role/') > 0
             THEN coalesce(useridentity.sessioncontext.sessionissuer.principalid, '') ELSE '' END AS role_id,
        -- The session: what follows the role in an assumed-role ARN, else what follows ':' in the
        -- principal id (AROA...:i-...).
        CASE WHEN regexp_like(useridentity.arn, ':assumed-role/[^/]*/')
             THEN regexp_extract(useridentity.arn, ':assumed-role/[^/]*/(.*)', 1)
             WHEN strpos(useridentity.principalid, ':') > 0
             THEN substr(useridentity.principalid, strpos(useridentity.principalid, ':') + 1)
             ELSE '' END AS session_name,
        try(CAST(to_unixtime(from_iso8601_timestamp(
            useridentity.sessioncontext.attributes.creationdate)) * 1000 AS BIGINT)) AS issued_ms,
        eventname IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity',
                      'GetSessionToken', 'GetFederationToken', 'AssumeRoot') AS minting,
        try(json_extract_scalar(requestparameters, '$.roleArn')) AS req_role_arn,
        try(json_extract_scalar(requestparameters, '$.roleSessionName')) AS req_session_name,
        try(json_extract_scalar(requestparameters, '$.instanceId')) AS req_instance_id,
        -- Every instance a TerminateInstances names (instancesSet.items[].instanceId), space-separated,
        -- as src/decode/normalize.rs reads them: EC2's own shape of id only.
        CASE WHEN eventname = 'TerminateInstances'
             THEN array_join(regexp_extract_all(requestparameters, '"instanceId"\s*:\s*"(i-[0-9a-f]{8,17})"', 1), ' ')
             END AS req_terminated,
        try(json_extract_scalar(requestparameters, '$.publicIp')) AS req_public_ip,
        try(json_extract_scalar(requestparameters, '$.allocationId')) AS req_allocation_id,
        try(json_extract_scalar(responseelements, '$.credentials.accessKeyId')) AS resp_key,
        try(json_extract_scalar(responseelements, '$.assumedRoleUser.assumedRoleId')) AS resp_role_id,
        try(json_extract_scalar(responseelements, '$.publicIp')) AS resp_public_ip,
        try(json_extract_scalar(responseelements, '$.allocationId')) AS resp_allocation_id
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
-- A record delivered twice (global events copied into several regions, an organization trail
-- beside an account trail) counts once: by eventID, a UUID's case ignored, as trailhound does.
numbered AS (
    SELECT *, row_number() OVER (
        PARTITION BY CASE WHEN regexp_like(event_id, '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
                          THEN lower(event_id) ELSE event_id END
        ORDER BY object_path) AS copy
    FROM kept
),
events AS (
    SELECT
        object_path, event_id, time_ms, account_id, aws_region, event_source, event_name, error_code,
        source_ip, user_agent, vpc_endpoint_id, vpc_endpoint_account_id, read_only_false,
        principal_type, principal_id, principal_arn, user_name, access_key_id, invoked_by,
        ec2_role_delivery, role_arn, role_id, session_name, issued_ms,
        -- A signature anyone it was handed to can redeem (src/detect/origin.rs, redemption): a
        -- presigned S3 link for an object, an ECR token's pulls (by a registry client), a signed GetCallerIdentity
        -- (EKS's authenticator, Vault).
        (auth_method = 'QueryString' AND event_name IN ('GetObject', 'HeadObject', 'PutObject', 'UploadPart',
                                                        'CreateMultipartUpload', 'CompleteMultipartUpload'))
            OR (event_source = 'ecr.amazonaws.com' AND event_name IN ('BatchGetImage', 'GetDownloadUrlForLayer',
                                                                    'BatchCheckLayerAvailability')
                AND regexp_like(lower(user_agent),
                    '^(docker|containerd|nerdctl|cri-o|containers|podman|buildah|skopeo|helm|oras|notation|regclient|flux|kaniko|buildkit|crane|ko|cosign)/|go-containerregistry/'))
            OR (event_source = 'sts.amazonaws.com' AND event_name = 'GetCallerIdentity') AS replayed,
        CASE WHEN minting THEN coalesce(resp_key, '') ELSE '' END AS minted_key,
        CASE WHEN minting THEN coalesce(req_role_arn, '') ELSE '' END AS minted_role_arn,
        CASE WHEN minting AND strpos(resp_role_id, ':') > 0
             THEN substr(resp_role_id, 1, strpos(resp_role_id, ':') - 1) ELSE '' END AS minted_role_id,
        CASE WHEN NOT minting THEN ''
             WHEN coalesce(req_session_name, '') <> '' THEN req_session_name
             WHEN strpos(resp_role_id, ':') > 0 THEN substr(resp_role_id, strpos(resp_role_id, ':') + 1)
             ELSE '' END AS minted_session_name,
        CASE WHEN event_name = 'AssociateAddress' THEN coalesce(req_instance_id, '')
             WHEN event_name = 'TerminateInstances' THEN coalesce(req_terminated, '') ELSE '' END AS target_instance_id,
        CASE WHEN event_name = 'AssociateAddress' THEN coalesce(req_public_ip, '')
             WHEN event_name = 'AllocateAddress' THEN coalesce(resp_public_ip, '') ELSE '' END AS target_public_ip,
        CASE WHEN event_name = 'AssociateAddress' THEN coalesce(req_allocation_id, '')
             WHEN event_name = 'AllocateAddress' THEN coalesce(resp_allocation_id, '') ELSE '' END AS allocation_id
    FROM numbered
    WHERE event_id = '' OR copy = 1
)
SELECT
    event_name, minted_key, minted_role_arn, minted_role_id, minted_session_name, invoked_by, source_ip,
    '' AS identity_provider, principal_id, account_id, aws_region AS region, event_id, time_ms
FROM events
WHERE event_name IN ('AssumeRole', 'AssumeRoleWithWebIdentity') AND minted_key <> '' AND error_code = ''
