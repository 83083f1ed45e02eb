//! IAM and STS calls for revocation, each failure reported by its AWS error code.

use crate::aws::AwsError;

/// What a plan needs to know about a role.
#[derive(Clone, Debug)]
pub struct RoleInfo {
    /// The role name (`GetRole`'s `RoleName`), without its path.
    pub name: String,
    /// The role ARN.
    pub arn: String,
    /// The role's unique id (`AROA...`): with the session name, what `aws:userid` of its sessions is.
    pub role_id: String,
    /// The role's IAM path, e.g. `/` or `/aws-service-role/...`; tells service-linked and SSO roles apart.
    pub path: String,
}

impl RoleInfo {
    /// Why IAM will not let anyone add an inline policy to this role, if it will not.
    pub fn refusal(&self) -> Option<String> {
        if self.path.starts_with("/aws-service-role/") {
            return Some(format!(
                "{} is a service-linked role: AWS owns its policies and refuses changes. Revoke the service's access another way (disable the integration or delete the role).",
                self.arn
            ));
        }
        if self.path.starts_with("/aws-reserved/sso.amazonaws.com/") || self.name.starts_with("AWSReservedSSO_") {
            return Some(format!(
                "{} is managed by IAM Identity Center: change the permission set (or revoke the user's sessions in Identity Center) instead.",
                self.arn
            ));
        }
        None
    }
}

/// `arn:aws:iam::123:role/path/name` or `name` -> `name`.
pub fn role_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(_) => name_or_arn.rsplit('/').next().unwrap_or(name_or_arn),
        None => name_or_arn,
    }
}

/// The account field of an ARN (`arn:aws:iam::ACCOUNT:role/...`); empty when it has none.
pub fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

fn decode_document(doc: &str) -> String {
    // IAM returns policy documents URL-encoded.
    percent_encoding::percent_decode_str(doc).decode_utf8_lossy().into_owned()
}

/// Who holds an inline policy.
#[derive(Clone, Copy, Debug)]
pub enum Holder<'a> {
    /// An IAM role, by name.
    Role(&'a str),
    /// An IAM user, by name.
    User(&'a str),
}

impl<'a> Holder<'a> {
    /// The holder's name.
    pub fn name(&self) -> &'a str {
        match self {
            Holder::Role(n) | Holder::User(n) => n,
        }
    }

    /// `role` or `user`, as in IAM's action names.
    pub fn kind(&self) -> &'static str {
        match self {
            Holder::Role(_) => "role",
            Holder::User(_) => "user",
        }
    }
}

/// IAM and STS clients for planning, applying and checking revocations.
pub struct Iam {
    /// The IAM client.
    pub client: aws_sdk_iam::Client,
    /// The STS client (only `GetCallerIdentity`, to record who made a change).
    pub sts: aws_sdk_sts::Client,
}

impl Iam {
    /// Clients from the SDK configuration (credentials, region, endpoint).
    pub fn new(cfg: &aws_config::SdkConfig) -> Self {
        Iam { client: aws_sdk_iam::Client::new(cfg), sts: aws_sdk_sts::Client::new(cfg) }
    }

    /// The ARN of the principal the calls are made as (`GetCallerIdentity`); `unknown` when STS leaves it out.
    pub async fn caller(&self) -> Result<String, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", "sts", &e))?;
        Ok(out.arn().unwrap_or("unknown").to_owned())
    }

    /// The role by name (`GetRole`).
    pub async fn role(&self, name: &str) -> Result<RoleInfo, AwsError> {
        let out =
            self.client.get_role().role_name(name).send().await.map_err(|e| AwsError::from_sdk("GetRole", name, &e))?;
        let r = out.role().ok_or_else(|| AwsError {
            operation: "GetRole",
            target: name.into(),
            code: String::new(),
            message: "empty response".into(),
        })?;
        Ok(RoleInfo {
            name: r.role_name().to_owned(),
            arn: r.arn().to_owned(),
            role_id: r.role_id().to_owned(),
            path: r.path().to_owned(),
        })
    }

    /// Every inline policy of the role: `(name, document)`.
    pub async fn role_policies(&self, role: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_role_policies().role_name(role).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListRolePolicies", role, &e))?;
            names.extend(page.policy_names().iter().cloned());
        }
        let mut out = Vec::new();
        for n in names {
            if let Some(doc) = self.role_policy(role, &n).await? {
                out.push((n, doc));
            }
        }
        Ok(out)
    }

    /// The role's inline policy document (URL-decoded); `None` when the role has no such policy.
    pub async fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_role_policy().role_name(role).policy_name(policy).send().await {
            Ok(out) => Ok(Some(decode_document(out.policy_document()))),
            Err(e) => {
                let err = AwsError::from_sdk("GetRolePolicy", &format!("{role}/{policy}"), &e);
                if err.is("NoSuchEntity") { Ok(None) } else { Err(err) }
            }
        }
    }

    /// Creates or replaces the role's inline policy (`PutRolePolicy`).
    pub async fn put_role_policy(&self, role: &str, policy: &str, doc: &str) -> Result<(), AwsError> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(doc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutRolePolicy", &format!("{role}/{policy}"), &e))
    }

    /// Deletes the role's inline policy (`DeleteRolePolicy`).
    pub async fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), AwsError> {
        self.client
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("DeleteRolePolicy", &format!("{role}/{policy}"), &e))
    }

    /// The user owning a long-term key.
    pub async fn key_owner(&self, key: &str) -> Result<String, AwsError> {
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAccessKeyLastUsed", key, &e))?;
        out.user_name().map(str::to_owned).ok_or_else(|| AwsError {
            operation: "GetAccessKeyLastUsed",
            target: key.into(),
            code: "NoSuchEntity".into(),
            message: "no IAM user owns this key (a root key must be deactivated by the root user)".into(),
        })
    }

    /// The key's status (`Active`/`Inactive`), `None` when the user has no such key.
    pub async fn key_status(&self, user: &str, key: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .client
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListAccessKeys", user, &e))?;
        Ok(out
            .access_key_metadata()
            .iter()
            .find(|m| m.access_key_id() == Some(key))
            .and_then(|m| m.status())
            .map(|s| s.as_str().to_owned()))
    }

    /// Activates or deactivates a long-term key (`UpdateAccessKey`); never deletes it.
    pub async fn set_key_status(&self, user: &str, key: &str, active: bool) -> Result<(), AwsError> {
        let status =
            if active { aws_sdk_iam::types::StatusType::Active } else { aws_sdk_iam::types::StatusType::Inactive };
        self.client
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(status)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("UpdateAccessKey", key, &e))
    }

    /// The user's inline policy document (URL-decoded); `None` when the user has no such policy.
    pub async fn user_policy(&self, user: &str, policy: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_user_policy().user_name(user).policy_name(policy).send().await {
            Ok(out) => Ok(Some(decode_document(out.policy_document()))),
            Err(e) => {
                let err = AwsError::from_sdk("GetUserPolicy", &format!("{user}/{policy}"), &e);
                if err.is("NoSuchEntity") { Ok(None) } else { Err(err) }
            }
        }
    }

    /// Creates or replaces the user's inline policy (`PutUserPolicy`).
    pub async fn put_user_policy(&self, user: &str, policy: &str, doc: &str) -> Result<(), AwsError> {
        self.client
            .put_user_policy()
            .user_name(user)
            .policy_name(policy)
            .policy_document(doc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutUserPolicy", &format!("{user}/{policy}"), &e))
    }

    /// Deletes the user's inline policy (`DeleteUserPolicy`).
    pub async fn delete_user_policy(&self, user: &str, policy: &str) -> Result<(), AwsError> {
        self.client
            .delete_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("DeleteUserPolicy", &format!("{user}/{policy}"), &e))
    }

    /// The holder's inline policy document; `None` when it has no such policy.
    pub async fn inline_policy(&self, h: Holder<'_>, policy: &str) -> Result<Option<String>, AwsError> {
        match h {
            Holder::Role(r) => self.role_policy(r, policy).await,
            Holder::User(u) => self.user_policy(u, policy).await,
        }
    }

    /// Creates or replaces the holder's inline policy.
    pub async fn put_inline_policy(&self, h: Holder<'_>, policy: &str, doc: &str) -> Result<(), AwsError> {
        match h {
            Holder::Role(r) => self.put_role_policy(r, policy, doc).await,
            Holder::User(u) => self.put_user_policy(u, policy, doc).await,
        }
    }

    /// Deletes the holder's inline policy.
    pub async fn delete_inline_policy(&self, h: Holder<'_>, policy: &str) -> Result<(), AwsError> {
        match h {
            Holder::Role(r) => self.delete_role_policy(r, policy).await,
            Holder::User(u) => self.delete_user_policy(u, policy).await,
        }
    }
}
