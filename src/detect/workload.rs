//! The workloads credentials are delivered to, named by the service principal that delivers them.

/// Which kind of workload credentials were delivered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// An EC2 instance profile (delivered by `ec2.amazonaws.com`; session name = instance id).
    Ec2,
    /// A Lambda function (`lambda.amazonaws.com`; session name = function name).
    Lambda,
    /// An ECS task role (`ecs-tasks.amazonaws.com`), AWS Batch jobs on ECS included.
    Ecs,
    /// A CodeBuild build (`codebuild.amazonaws.com`).
    CodeBuild,
    /// A Glue job or crawler (`glue.amazonaws.com`).
    Glue,
    /// A SageMaker job, endpoint or notebook (`sagemaker.amazonaws.com`).
    SageMaker,
    /// An AWS Batch service role (`batch.amazonaws.com`).
    Batch,
    /// EMR, EMR Serverless and EMR on EKS (`elasticmapreduce`, `emr-serverless`, `emr-containers`).
    Emr,
    /// An App Runner service (`tasks.apprunner.amazonaws.com`, `build.apprunner.amazonaws.com`).
    AppRunner,
    /// A Step Functions state machine (`states.amazonaws.com`).
    StepFunctions,
    /// EKS Pod Identity (`pods.eks.amazonaws.com`).
    EksPodIdentity,
    /// A pod's `AssumeRoleWithWebIdentity` with an EKS OIDC issuer (IRSA).
    EksWebIdentity,
    /// An Amazon MWAA (managed Airflow) environment's execution role: DAGs are the customer's code
    /// (`airflow-env.amazonaws.com`, `airflow.amazonaws.com`).
    Mwaa,
    /// A Managed Service for Apache Flink application (`kinesisanalytics.amazonaws.com`).
    Flink,
    /// An Amplify Hosting build, which runs the customer's build commands (`amplify.amazonaws.com`).
    Amplify,
    /// A Bedrock AgentCore runtime, which runs the customer's agent (`bedrock-agentcore.amazonaws.com`).
    AgentCore,
    /// Not a workload trailhound recognizes: not judged.
    Other,
}

impl Workload {
    /// The stable name used in findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Ec2 => "ec2",
            Workload::Lambda => "lambda",
            Workload::Ecs => "ecs",
            Workload::CodeBuild => "codebuild",
            Workload::Glue => "glue",
            Workload::SageMaker => "sagemaker",
            Workload::Batch => "batch",
            Workload::Emr => "emr",
            Workload::AppRunner => "apprunner",
            Workload::StepFunctions => "stepfunctions",
            Workload::EksPodIdentity => "eks-pod-identity",
            Workload::EksWebIdentity => "eks-web-identity",
            Workload::Mwaa => "mwaa",
            Workload::Flink => "flink",
            Workload::Amplify => "amplify",
            Workload::AgentCore => "bedrock-agentcore",
            Workload::Other => "other",
        }
    }

    /// The workload a service principal delivers credentials to (the `invokedBy` or
    /// `sourceIPAddress` of its `AssumeRole` record).
    pub fn delivered_by(principal: &str) -> Option<Workload> {
        Some(match principal {
            "ec2.amazonaws.com" => Workload::Ec2,
            "lambda.amazonaws.com" | "edgelambda.amazonaws.com" => Workload::Lambda,
            "ecs-tasks.amazonaws.com" => Workload::Ecs,
            "codebuild.amazonaws.com" => Workload::CodeBuild,
            "glue.amazonaws.com" => Workload::Glue,
            "sagemaker.amazonaws.com" => Workload::SageMaker,
            "batch.amazonaws.com" => Workload::Batch,
            "elasticmapreduce.amazonaws.com" | "emr-serverless.amazonaws.com" | "emr-containers.amazonaws.com" => {
                Workload::Emr
            }
            "tasks.apprunner.amazonaws.com" | "build.apprunner.amazonaws.com" => Workload::AppRunner,
            "states.amazonaws.com" => Workload::StepFunctions,
            "pods.eks.amazonaws.com" => Workload::EksPodIdentity,
            // Services that run the customer's code on their own hosts in the region. Not those
            // whose credentials are meant for hosts outside AWS (SSM's hybrid nodes, IAM Roles
            // Anywhere, IoT's credential provider, GameLift Anywhere), nor services that use a role
            // only for their own calls.
            "airflow-env.amazonaws.com" | "airflow.amazonaws.com" => Workload::Mwaa,
            "kinesisanalytics.amazonaws.com" => Workload::Flink,
            "amplify.amazonaws.com" => Workload::Amplify,
            "bedrock-agentcore.amazonaws.com" => Workload::AgentCore,
            _ => return None,
        })
    }

    /// EC2 instances run from a small stable set of origins, judged per instance; every other
    /// workload runs on a fleet (a new host per cold start, task or build), judged per role by the
    /// class of its addresses.
    pub fn is_fleet(self) -> bool {
        !matches!(self, Workload::Ec2 | Workload::Other)
    }
}
