/**
 * What a GuardDuty finding type says about ATT&CK. A type reads
 * `ThreatPurpose:ResourceType/ThreatFamily.Mechanism!Artifact`
 * (`UnauthorizedAccess:EC2/SSHBruteForce`). The threat purpose names a
 * tactic for most purposes; the technique is derivable only for families
 * whose behaviour is unambiguous, so the table below is short on purpose: a
 * wrong technique misleads an analyst more than a missing one.
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

/** Finding-type patterns → techniques (checked in order; every match contributes). */
const TYPE_TECHNIQUES: ReadonlyArray<[RegExp, string[]]> = [
  [/^CryptoCurrency:|BitcoinDomainRequest|BitcoinTool/, ['T1496']],
  [/BruteForce/, ['T1110']],
  [/^Recon:EC2\/Port(Probe|ProbeEMR)Unprotected/, ['T1595']],
  [/^Recon:EC2\/Portscan/, ['T1046']],
  [/DNSDataExfiltration/, ['T1048']],
  [/DGADomainRequest/, ['T1568.002']],
  [/C&CActivity/, ['T1071']],
  [/DenialOfService/, ['T1498']],
  [/InstanceCredentialExfiltration/, ['T1552.005']],
  [/TorIPCaller|TorClient|TorRelay/, ['T1090.003']],
  [/CloudTrailLoggingDisabled|ServerAccessLoggingDisabled/, ['T1562.008']],
  [/RootCredentialUsage|ConsoleLoginSuccess/, ['T1078.004']],
  [/AnomalousBehavior\.SuccessfulLogin/, ['T1078']],
  [
    /^PrivilegeEscalation:Runtime\/(DockerSocketAccessed|ContainerMountsHostDirectory|RuncContainerEscape)/,
    ['T1611'],
  ],
  [/ReverseShell/, ['T1059']],
  [/^Exfiltration:S3\//, ['T1530']],
  [/^Impact:S3\/.*(ObjectDelete|PermissionsModification)/, ['T1485']],
  [/^Discovery:S3\//, ['T1619']],
];

/**
 * Tactic tags (`attack.<tactic>`) and technique ids a finding type implies.
 *
 * @example attackOfType('UnauthorizedAccess:EC2/SSHBruteForce') // { tactics: [], techniques: ['T1110'] }
 */
export function attackOfType(type: string): { tactics: string[]; techniques: string[] } {
  const purpose = threatPurpose(type);
  const tactic = purpose ? PURPOSE_TACTIC[purpose] : undefined;
  const techniques = new Set<string>();
  for (const [re, ids] of TYPE_TECHNIQUES) if (re.test(type)) for (const id of ids) techniques.add(id);
  return { tactics: tactic ? [tactic] : [], techniques: [...techniques] };
}

/** The threat purpose of a finding type (`Trojan` in `Trojan:EC2/BlackholeTraffic`). */
export function threatPurpose(type: string): string | undefined {
  const m = /^([A-Za-z]+):/.exec(type);
  return m?.[1];
}
