/**
 * What a GuardDuty finding says about ATT&CK.
 *
 * A type reads `ThreatPurpose:ResourceType/ThreatFamily.Mechanism!Artifact`
 * (`UnauthorizedAccess:EC2/SSHBruteForce`); its threat purpose names a
 * tactic for most purposes (AWS GuardDuty User Guide, "GuardDuty finding
 * format"). Techniques come from two places:
 *
 * - **Attack sequence findings** (Extended Threat Detection) state them: the
 *   indicators under `service.detection.sequence` carry `ATTACK_TECHNIQUE`
 *   values (GuardDuty API Reference, `Indicator`). They are read from the
 *   finding ({@link techniquesOfIndicators}).
 * - **Every other finding type** states none. The table below maps the
 *   finding types AWS documents (GuardDuty User Guide, the finding-type
 *   pages for EC2, IAM, S3 Protection, EKS Protection, Runtime Monitoring,
 *   RDS Protection and Lambda Protection, as published in 2025) to the
 *   techniques each type's documented description names in ATT&CK's terms:
 *   the behaviour the type detects (an outbound SSH brute force is T1110, a
 *   query to a DGA domain T1568.002, a process injected through ptrace
 *   T1055.008). Types whose description names a resource or a reputation
 *   rather than a behaviour (a call from a known malicious IP, blackhole
 *   traffic, a public bucket, a pen-test distribution, malware found on
 *   disk) map to no technique on purpose: a wrong technique misleads an
 *   analyst more than a missing one. Written from the documentation, not
 *   from any test file; every id is checked against ATT&CK Enterprise in
 *   `guardduty.test.ts`.
 */

/** GuardDuty threat purpose → ATT&CK tactic short name, where the purpose is a tactic. */
const PURPOSE_TACTIC: Record<string, string> = {
  Backdoor: 'command-and-control',
  CredentialAccess: 'credential-access',
  CryptoCurrency: 'impact',
  DefenseEvasion: 'defense-evasion',
  Discovery: 'discovery',
  Execution: 'execution',
  Exfiltration: 'exfiltration',
  Impact: 'impact',
  InitialAccess: 'initial-access',
  Persistence: 'persistence',
  PrivilegeEscalation: 'privilege-escalation',
  Recon: 'reconnaissance',
  Stealth: 'defense-evasion',
};

const C2 = ['T1071'];
const MINING = ['T1496'];
const TOR = ['T1090.003'];
const DGA = ['T1568.002'];
const DRIVE_BY = ['T1189'];
const PHISHING = ['T1566'];
const DOS = ['T1498'];
const BRUTE_FORCE = ['T1110'];
const METADATA = ['T1552.005'];
const VALID_CLOUD_ACCOUNT = ['T1078.004'];
const ESCAPE = ['T1611'];
const CLOUD_LOGS = ['T1562.008'];
const BUCKET_DISCOVERY = ['T1619'];
const BUCKET_DATA = ['T1530'];
const K8S_SECRETS = ['T1552.007'];
const K8S_DISCOVERY = ['T1613'];

/** Documented finding types → techniques (see the comment at the top of this file). */
export const TYPE_TECHNIQUES: Readonly<Record<string, readonly string[]>> = {
  // EC2 finding types.
  'Backdoor:EC2/C&CActivity.B': C2,
  'Backdoor:EC2/C&CActivity.B!DNS': C2,
  'Backdoor:EC2/DenialOfService.Dns': DOS,
  'Backdoor:EC2/DenialOfService.Tcp': DOS,
  'Backdoor:EC2/DenialOfService.Udp': DOS,
  'Backdoor:EC2/DenialOfService.UdpOnTcpPorts': DOS,
  'Backdoor:EC2/DenialOfService.UnusualProtocol': DOS,
  'Behavior:EC2/NetworkPortUnusual': ['T1571'],
  'CryptoCurrency:EC2/BitcoinTool.B': MINING,
  'CryptoCurrency:EC2/BitcoinTool.B!DNS': MINING,
  'DefenseEvasion:EC2/UnusualDoHActivity': ['T1572'],
  'DefenseEvasion:EC2/UnusualDoTActivity': ['T1572'],
  'Impact:EC2/BitcoinDomainRequest.Reputation': MINING,
  'Impact:EC2/PortSweep': ['T1046'],
  'Impact:EC2/WinRMBruteForce': BRUTE_FORCE,
  'Recon:EC2/PortProbeEMRUnprotectedPort': ['T1595'],
  'Recon:EC2/PortProbeUnprotectedPort': ['T1595'],
  'Recon:EC2/Portscan': ['T1046'],
  'Trojan:EC2/DGADomainRequest.B': DGA,
  'Trojan:EC2/DGADomainRequest.C!DNS': DGA,
  'Trojan:EC2/DNSDataExfiltration': ['T1048'],
  'Trojan:EC2/DriveBySourceTraffic!DNS': DRIVE_BY,
  'Trojan:EC2/PhishingDomainRequest!DNS': PHISHING,
  'UnauthorizedAccess:EC2/MetadataDNSRebind': METADATA,
  'UnauthorizedAccess:EC2/RDPBruteForce': BRUTE_FORCE,
  'UnauthorizedAccess:EC2/SSHBruteForce': BRUTE_FORCE,
  'UnauthorizedAccess:EC2/TorClient': TOR,
  'UnauthorizedAccess:EC2/TorIPCaller': TOR,
  'UnauthorizedAccess:EC2/TorRelay': TOR,
  // IAM finding types (the AnomalousBehavior types name the APIs of each stage in their description).
  'CredentialAccess:IAMUser/AnomalousBehavior': ['T1555.006'],
  'DefenseEvasion:IAMUser/AnomalousBehavior': ['T1562'],
  'Discovery:IAMUser/AnomalousBehavior': ['T1580'],
  'Exfiltration:IAMUser/AnomalousBehavior': ['T1537'],
  'InitialAccess:IAMUser/AnomalousBehavior': VALID_CLOUD_ACCOUNT,
  'Persistence:IAMUser/AnomalousBehavior': ['T1098.001'],
  'PrivilegeEscalation:IAMUser/AnomalousBehavior': ['T1098.003'],
  'Policy:IAMUser/RootCredentialUsage': VALID_CLOUD_ACCOUNT,
  'Policy:IAMUser/ShortTermRootCredentialUsage': VALID_CLOUD_ACCOUNT,
  'Recon:IAMUser/TorIPCaller': TOR,
  'Stealth:IAMUser/CloudTrailLoggingDisabled': CLOUD_LOGS,
  'UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B': VALID_CLOUD_ACCOUNT,
  'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS': METADATA,
  'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS': METADATA,
  'UnauthorizedAccess:IAMUser/TorIPCaller': TOR,
  // S3 Protection finding types.
  'Discovery:S3/AnomalousBehavior': BUCKET_DISCOVERY,
  'Discovery:S3/MaliciousIPCaller': BUCKET_DISCOVERY,
  'Discovery:S3/MaliciousIPCaller.Custom': BUCKET_DISCOVERY,
  'Discovery:S3/TorIPCaller': [...BUCKET_DISCOVERY, ...TOR],
  'Exfiltration:S3/AnomalousBehavior': BUCKET_DATA,
  'Exfiltration:S3/MaliciousIPCaller': BUCKET_DATA,
  'Impact:S3/AnomalousBehavior.Delete': ['T1485'],
  'Impact:S3/AnomalousBehavior.Write': ['T1565.001'],
  'Stealth:S3/ServerAccessLoggingDisabled': CLOUD_LOGS,
  'UnauthorizedAccess:S3/TorIPCaller': TOR,
  // EKS Protection (Kubernetes audit log) finding types.
  'CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed': K8S_SECRETS,
  'CredentialAccess:Kubernetes/MaliciousIPCaller': K8S_SECRETS,
  'CredentialAccess:Kubernetes/MaliciousIPCaller.Custom': K8S_SECRETS,
  'CredentialAccess:Kubernetes/SuccessfulAnonymousAccess': K8S_SECRETS,
  'CredentialAccess:Kubernetes/TorIPCaller': [...K8S_SECRETS, ...TOR],
  'DefenseEvasion:Kubernetes/TorIPCaller': TOR,
  'Discovery:Kubernetes/AnomalousBehavior.PermissionChecked': K8S_DISCOVERY,
  'Discovery:Kubernetes/MaliciousIPCaller': K8S_DISCOVERY,
  'Discovery:Kubernetes/MaliciousIPCaller.Custom': K8S_DISCOVERY,
  'Discovery:Kubernetes/SuccessfulAnonymousAccess': K8S_DISCOVERY,
  'Discovery:Kubernetes/TorIPCaller': [...K8S_DISCOVERY, ...TOR],
  'Execution:Kubernetes/AnomalousBehavior.ExecInPod': ['T1609'],
  'Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed': ['T1610'],
  'Execution:Kubernetes/ExecInKubeSystemPod': ['T1609'],
  'Impact:Kubernetes/TorIPCaller': TOR,
  'Persistence:Kubernetes/AnomalousBehavior.WorkloadDeployed!ContainerWithSensitiveMount': ESCAPE,
  'Persistence:Kubernetes/ContainerWithSensitiveMount': ESCAPE,
  'Persistence:Kubernetes/TorIPCaller': TOR,
  'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated': ['T1098.006'],
  'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated': ['T1098.006'],
  'PrivilegeEscalation:Kubernetes/AnomalousBehavior.WorkloadDeployed!PrivilegedContainer': ESCAPE,
  'PrivilegeEscalation:Kubernetes/PrivilegedContainer': ESCAPE,
  // Runtime Monitoring finding types.
  'Backdoor:Runtime/C&CActivity.B': C2,
  'Backdoor:Runtime/C&CActivity.B!DNS': C2,
  'CredentialAccess:Runtime/MemoryDumpCreated': ['T1003'],
  'CryptoCurrency:Runtime/BitcoinTool.B': MINING,
  'CryptoCurrency:Runtime/BitcoinTool.B!DNS': MINING,
  'DefenseEvasion:Runtime/FilelessExecution': ['T1620'],
  'DefenseEvasion:Runtime/KernelModuleLoaded': ['T1547.006'],
  'DefenseEvasion:Runtime/ProcessInjection.Proc': ['T1055.009'],
  'DefenseEvasion:Runtime/ProcessInjection.Ptrace': ['T1055.008'],
  'DefenseEvasion:Runtime/ProcessInjection.VirtualMemoryWrite': ['T1055'],
  'DefenseEvasion:Runtime/PtraceAntiDebugging': ['T1622'],
  'Execution:Runtime/ReverseShell': ['T1059'],
  'Impact:Runtime/BitcoinDomainRequest.Reputation': MINING,
  'Impact:Runtime/CryptoMinerExecuted': MINING,
  'PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified': ESCAPE,
  'PrivilegeEscalation:Runtime/ContainerMountsHostDirectory': ESCAPE,
  'PrivilegeEscalation:Runtime/DockerSocketAccessed': ESCAPE,
  'PrivilegeEscalation:Runtime/ElevationToRoot': ['T1548'],
  'PrivilegeEscalation:Runtime/RuncContainerEscape': ESCAPE,
  'PrivilegeEscalation:Runtime/UserfaultfdUsage': ['T1068'],
  'Trojan:Runtime/DGADomainRequest.C!DNS': DGA,
  'Trojan:Runtime/DriveBySourceTraffic!DNS': DRIVE_BY,
  'Trojan:Runtime/PhishingDomainRequest!DNS': PHISHING,
  'UnauthorizedAccess:Runtime/MetadataDNSRebind': METADATA,
  'UnauthorizedAccess:Runtime/TorClient': TOR,
  'UnauthorizedAccess:Runtime/TorRelay': TOR,
  // RDS Protection finding types.
  'CredentialAccess:RDS/AnomalousBehavior.FailedLogin': BRUTE_FORCE,
  'CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce': BRUTE_FORCE,
  'CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin': ['T1078'],
  'CredentialAccess:RDS/MaliciousIPCaller.FailedLogin': BRUTE_FORCE,
  'CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin': ['T1078'],
  'CredentialAccess:RDS/TorIPCaller.FailedLogin': [...BRUTE_FORCE, ...TOR],
  'CredentialAccess:RDS/TorIPCaller.SuccessfulLogin': ['T1078', ...TOR],
  'Discovery:RDS/TorIPCaller': TOR,
  // Lambda Protection finding types.
  'Backdoor:Lambda/C&CActivity.B': C2,
  'CryptoCurrency:Lambda/BitcoinTool.B': MINING,
  'UnauthorizedAccess:Lambda/TorClient': TOR,
  'UnauthorizedAccess:Lambda/TorRelay': TOR,
};

/**
 * Tactic tags (`attack.<tactic>`) and technique ids a finding type implies.
 *
 * @example attackOfType('UnauthorizedAccess:EC2/SSHBruteForce') // { tactics: [], techniques: ['T1110'] }
 */
export function attackOfType(type: string): { tactics: string[]; techniques: string[] } {
  const purpose = threatPurpose(type);
  const tactic = purpose ? PURPOSE_TACTIC[purpose] : undefined;
  return { tactics: tactic ? [tactic] : [], techniques: [...(TYPE_TECHNIQUES[type] ?? [])] };
}

/**
 * The technique ids an attack sequence's indicators state: the values of
 * its `ATTACK_TECHNIQUE` indicators, as ids (`T1078.004`, or the id at the
 * start of `T1078.004 - Cloud Accounts`); values without an id are skipped.
 *
 * @example techniquesOfIndicators([{ key: 'ATTACK_TECHNIQUE', values: ['T1078.004', 'Valid Accounts'] }]) // ['T1078.004']
 */
export function techniquesOfIndicators(
  indicators: ReadonlyArray<{ key?: unknown; values?: unknown }>,
): string[] {
  const out = new Set<string>();
  for (const i of indicators) {
    if (i.key !== 'ATTACK_TECHNIQUE' || !Array.isArray(i.values)) continue;
    for (const v of i.values) {
      const m = typeof v === 'string' ? /^\s*(T\d{4}(?:\.\d{3})?)\b/.exec(v) : null;
      if (m) out.add(m[1]!);
    }
  }
  return [...out];
}

/** The threat purpose of a finding type (`Trojan` in `Trojan:EC2/BlackholeTraffic`). */
export function threatPurpose(type: string): string | undefined {
  const m = /^([A-Za-z]+):/.exec(type);
  return m?.[1];
}
