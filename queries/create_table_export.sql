-- Athena table over `trailhound export --to s3://BUCKET/PREFIX` (the README's "Export" section).
--
-- Replace s3://BUCKET/PREFIX (twice) and the region list. Partition projection computes the
-- partitions from the query's WHERE clause, so no MSCK REPAIR or Glue crawler is needed:
--   account  injected: every query names its account(s) (WHERE account = '012345678901');
--   region   enum:     the regions the trail covers;
--   date     date:     one partition per UTC day (yyyy-MM-dd), from 2015 until today.
-- Partition values are strings, so an account keeps its leading zero. Column names and order follow
-- src/export/schema.rs (tests/export.rs checks that they match).
CREATE EXTERNAL TABLE IF NOT EXISTS trailhound_events (
  event_time timestamp,
  event_id string,
  account_id string,
  aws_region string,
  event_source string,
  event_name string,
  event_type string,
  error_code string,
  principal_type string,
  principal_id string,
  principal_arn string,
  user_name string,
  role_arn string,
  role_id string,
  session_name string,
  access_key_id string,
  ec2_role_delivery string,
  source_ip string,
  user_agent string,
  vpc_endpoint_id string,
  vpc_endpoint_account_id string,
  identity_provider string,
  invoked_by string,
  auth_method string,
  minted_access_key_id string,
  minted_role_arn string,
  minted_role_id string,
  minted_session_name string,
  created_access_key_id string,
  target_instance_id string,
  target_public_ip string,
  allocation_id string,
  target_role_name string,
  target_policy_name string,
  request_parameters string,
  response_elements string,
  session_issued_at timestamp,
  read_only boolean,
  resources array<struct<arn:string,type:string,account_id:string>>
)
PARTITIONED BY (account string, region string, `date` string)
STORED AS PARQUET
LOCATION 's3://BUCKET/PREFIX/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.account.type' = 'injected',
  'projection.region.type' = 'enum',
  'projection.region.values' = 'us-east-1,us-east-2,us-west-1,us-west-2,eu-west-1,eu-west-2,eu-west-3,eu-central-1,eu-north-1,ap-southeast-1,ap-southeast-2,ap-northeast-1,ap-northeast-2,ap-south-1,ca-central-1,sa-east-1',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2015-01-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://BUCKET/PREFIX/account=${account}/region=${region}/date=${date}/'
);

-- A typical hunt: where and how one session key was used. Athena reads 5 columns of the matching
-- days instead of every gzipped JSON byte (benches/export.sh measures the ratio).
-- SELECT event_time, source_ip, user_agent, event_name, error_code
-- FROM trailhound_events
-- WHERE account = '012345678901' AND `date` BETWEEN '2026-11-01' AND '2026-11-30'
--   AND access_key_id = 'ASIA...'
-- ORDER BY event_time;
