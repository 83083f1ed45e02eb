//! Detection settings: the library's own option types, filled by the CLI or by a caller.

use super::ipranges::IpRanges;
use super::origin::Classifier;
use std::path::PathBuf;

/// What a caller asks of detection, before anything is read or parsed.
#[derive(Clone, Debug, Default)]
pub struct DetectOptions {
    /// On-premises egress never reported (addresses or CIDRs).
    pub trusted_cidrs: Vec<String>,
    /// Accounts whose VPC endpoints are the organization's (shared services).
    pub trusted_accounts: Vec<String>,
    /// AWS's `ip-ranges.json` to use instead of the built-in snapshot.
    pub ip_ranges: Option<PathBuf>,
    /// A TOML file with the same settings.
    pub config: Option<PathBuf>,
}

/// Detection settings, parsed and checked.
pub struct DetectConfig {
    /// Trusted networks and AWS's ranges.
    pub classifier: Classifier,
    /// Accounts whose VPC endpoints are the organization's own.
    pub trusted_accounts: Vec<String>,
}

/// The `--config` file: the same settings as the flags, for teams that keep them in a repository.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// See [`DetectOptions::trusted_cidrs`].
    #[serde(default)]
    pub trusted_cidrs: Vec<String>,
    /// See [`DetectOptions::trusted_accounts`].
    #[serde(default)]
    pub trusted_accounts: Vec<String>,
    /// See [`DetectOptions::ip_ranges`].
    pub ip_ranges: Option<PathBuf>,
}

impl DetectConfig {
    /// Builds the detection settings from options and the optional config file (options add to the
    /// file).
    pub fn load(opts: &DetectOptions) -> anyhow::Result<Self> {
        let file: ConfigFile = match &opts.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read --config {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("--config {}: {e}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let mut trusted = Vec::new();
        for c in file.trusted_cidrs.iter().chain(&opts.trusted_cidrs) {
            let net = c
                .parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| super::origin::parse_addr(c).map(ipnet::IpNet::from))
                .ok_or_else(|| {
                anyhow::anyhow!("trusted CIDR {c:?} is not an address or CIDR (example: 203.0.113.0/24)")
            })?;
            trusted.push(canonical_net(net));
        }
        let mut accounts = Vec::new();
        for a in file.trusted_accounts.iter().chain(&opts.trusted_accounts) {
            let a = a.trim();
            if a.len() != 12 || !a.bytes().all(|c| c.is_ascii_digit()) {
                anyhow::bail!("trusted account {a:?} is not a 12-digit AWS account id");
            }
            accounts.push(a.to_owned());
        }
        let ranges = match opts.ip_ranges.as_ref().or(file.ip_ranges.as_ref()) {
            Some(p) => IpRanges::from_file(p)?,
            None => IpRanges::builtin().map_err(|e| anyhow::anyhow!("the built-in AWS ip-ranges table: {e}"))?,
        };
        Ok(DetectConfig { classifier: Classifier { ranges, trusted }, trusted_accounts: accounts })
    }
}

/// `::ffff:203.0.113.0/120` is `203.0.113.0/24`: addresses are compared in their IPv4 form.
fn canonical_net(net: ipnet::IpNet) -> ipnet::IpNet {
    if let ipnet::IpNet::V6(v6) = net {
        if let Some(v4) = v6.addr().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                if let Ok(n) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                    return ipnet::IpNet::V4(n.trunc());
                }
            }
        }
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_trusted_cidrs_are_ipv4() {
        let cfg = DetectConfig::load(&DetectOptions {
            trusted_cidrs: vec!["::ffff:203.0.113.0/120".into(), "198.51.100.7".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.classifier.trusted[0].to_string(), "203.0.113.0/24");
        let a = super::super::origin::parse_addr("::ffff:203.0.113.9").unwrap();
        assert!(cfg.classifier.trusted.iter().any(|n| n.contains(&a)));
    }

    #[test]
    fn bad_trusted_account_is_an_error() {
        let err = DetectConfig::load(&DetectOptions { trusted_accounts: vec!["1234".into()], ..Default::default() });
        assert!(err.is_err());
    }
}
