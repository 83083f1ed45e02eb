-- CloudTrail table for a trail's bucket: AWSLogs/<account>/CloudTrail/<region>/yyyy/MM/dd/.
-- The columns, serde and input format are AWS's documented CloudTrail table ("Create the table for
-- CloudTrail logs in Athena using partition projection", Athena User Guide): JsonSerDe over
-- CloudTrailInputFormat, which reads the {"Records":[...]} files whole and skips digest files.
-- (Older guides used com.amazon.emr.hive.serde.CloudTrailSerde; AWS now documents JsonSerDe, which
-- reads the newer fields such as vpcendpointaccountid that detection needs.)
-- Partition projection: the day ('timestamp', yyyy/MM/dd, the delivery day of CloudTrail's layout),
-- and account and region as enums, so every trailhound query prunes by window, account and region
-- without ALTER TABLE ADD PARTITION. `trailhound athena ddl` fills the placeholders in double braces
-- (checked values only); by hand, replace them: TABLE a name, LOCATION s3://bucket[/prefix],
-- ACCOUNTS and REGIONS comma-separated lists, START the first day (yyyy/MM/dd).
CREATE EXTERNAL TABLE IF NOT EXISTS {{TABLE}} (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<
             userid: STRING,
             identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<
                federatedprovider: STRING,
                attributes: MAP<STRING, STRING>>
        >
    >,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<
        arn: STRING,
        accountid: STRING,
        type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    addendum STRUCT<
        reason: STRING,
        updatedfields: STRING,
        originalrequestid: STRING,
        originaleventid: STRING>,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<
        tlsversion: STRING,
        ciphersuite: STRING,
        clientprovidedhostheader: STRING>
)
PARTITIONED BY (
    account STRING,
    region STRING,
    `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{{LOCATION}}/AWSLogs/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{ACCOUNTS}}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{REGIONS}}',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'projection.timestamp.range' = '{{START}},NOW',
    'storage.location.template' = '{{LOCATION}}/AWSLogs/${account}/CloudTrail/${region}/${timestamp}',
    'classification' = 'cloudtrail')
