#Requires -Version 5.1
<#
.SYNOPSIS
Installs hushgate on this machine: the program, the rule sets and the
configuration, the "hushgate" service (automatic start), and the machine's
proxy settings pointing at it.

.DESCRIPTION
Run from the unpacked hushgate-VERSION-win64 folder, in an elevated
PowerShell (Run as administrator):

    powershell -ExecutionPolicy Bypass -File .\Install-Hushgate.ps1

Steps, each stopping the script if it fails:
 1. hushgate.exe, the scripts, README.txt and licenses\ are copied to
    %ProgramFiles%\hushgate (an installed service is stopped and removed
    first, so this is also the upgrade).
 2. %ProgramData%\hushgate is made readable by Users but writable by SYSTEM
    and Administrators only (the service runs what the file there says);
    the rule sets are copied to its sets\ folder (replaced on upgrade);
    hushgate.yaml is copied there only if none exists (yours is kept).
 3. hushgate.exe -t checks that configuration.
 4. hushgate.exe service install, then service start.
 5. hushgate.exe winhttp set --proxy 127.0.0.1:3128 --bypass "<local>"
    [--wininet user|machine] [--telemetry-policy]: the WinHTTP default proxy
    (what services, DiagTrack among them, use), optionally WinINet (browsers
    and apps), and the TelemetryProxyServer policy.  The values these
    replace are saved first in %ProgramData%\hushgate\winhttp-backup.reg;
    Uninstall-Hushgate.ps1 (hushgate.exe winhttp reset) restores them
    exactly.
 6. With -Netsh, the WinHTTP setting is written once more by netsh
    (netsh winhttp set advproxy where Windows has it, netsh winhttp set
    proxy otherwise), after the backup of step 5.
 7. With -FirewallBackstop, outbound firewall rules (group "hushgate
    backstop") block the telemetry programs listed below from any address
    but loopback, so that they cannot go around the proxy.

.PARAMETER Proxy
The proxy address the settings point at; must match "listen" in
hushgate.yaml.  Default 127.0.0.1:3128.

.PARAMETER Bypass
Hosts WinHTTP/WinINet reach directly.  Default "<local>" (plain names).

.PARAMETER WinINet
None (default), User (this user's Internet Options: Edge, Chrome and most
programs) or Machine (every user, through the ProxySettingsPerUser policy).

.PARAMETER NoTelemetryPolicy
Do not set the TelemetryProxyServer and DisableEnterpriseAuthProxy
policies (set by default: the documented way to give DiagTrack a proxy).

.PARAMETER Netsh
Also write the WinHTTP setting with netsh (see step 6).

.PARAMETER FirewallBackstop
Add the outbound block rules of step 7.  They block, for every remote
address except 127.0.0.0/8 and ::1:
  - the DiagTrack service (Connected User Experiences and Telemetry)
  - %SystemRoot%\System32\CompatTelRunner.exe (compatibility appraiser)
  - %SystemRoot%\System32\DeviceCensus.exe (device census)
  - %SystemRoot%\System32\wermgr.exe and WerFault.exe (error reporting)
These programs then reach the network only through hushgate, which
decides by its rules.

.PARAMETER Source
The folder with hushgate.exe, hushgate.yaml and sets\ (default: this
script's folder).

.NOTES
Store (UWP) apps run in an AppContainer that may not connect to 127.0.0.1
unless exempted.  With -WinINet, such an app that uses the system proxy
fails to connect until it is exempted:
    CheckNetIsolation LoopbackExempt -a -n=<PackageFamilyName>
(list the names with: Get-AppxPackage | Select Name, PackageFamilyName;
see the exemptions with: CheckNetIsolation LoopbackExempt -s; remove one
with -d).  An exemption lets that app reach every local server, not only
hushgate.
#>
[CmdletBinding()]
param(
	[string]$Proxy = '127.0.0.1:3128',
	[string]$Bypass = '<local>',
	[ValidateSet('None', 'User', 'Machine')]
	[string]$WinINet = 'None',
	[switch]$NoTelemetryPolicy,
	[switch]$Netsh,
	[switch]$FirewallBackstop,
	[string]$Source = $PSScriptRoot
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$ServiceName = 'hushgate'
$FirewallGroup = 'hushgate backstop'
$ProgDir = Join-Path $env:ProgramFiles 'hushgate'
$DataDir = Join-Path $env:ProgramData 'hushgate'
$Exe = Join-Path $ProgDir 'hushgate.exe'
$Config = Join-Path $DataDir 'hushgate.yaml'

function Test-Elevated {
	$id = [Security.Principal.WindowsIdentity]::GetCurrent()
	$p = New-Object Security.Principal.WindowsPrincipal($id)
	return $p.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

# Runs hushgate.exe; stops the script when it fails.
function Invoke-Hushgate {
	param([string]$Path, [string[]]$Arguments)
	Write-Host "> hushgate $($Arguments -join ' ')"
	& $Path @Arguments
	if ($LASTEXITCODE -ne 0) {
		throw "hushgate $($Arguments -join ' ') failed (exit $LASTEXITCODE)"
	}
}

if (-not (Test-Elevated)) {
	throw 'Run this script from an elevated PowerShell (Run as administrator).'
}
foreach ($f in 'hushgate.exe', 'hushgate.yaml', 'sets') {
	if (-not (Test-Path (Join-Path $Source $f))) {
		throw "$f not found in $Source (run the script from the unpacked zip)"
	}
}

# 1. Program files.  An installed service holds hushgate.exe open: stop and
# remove it first (its data and proxy settings stay).
if (Test-Path $Exe) {
	& $Exe service status | Out-Null
	if ($LASTEXITCODE -ne 4) {
		Invoke-Hushgate $Exe @('service', 'uninstall')
	}
}
New-Item -ItemType Directory -Force -Path $ProgDir | Out-Null
Copy-Item -Force (Join-Path $Source 'hushgate.exe') $ProgDir
foreach ($f in 'Install-Hushgate.ps1', 'Uninstall-Hushgate.ps1', 'README.txt') {
	$p = Join-Path $Source $f
	if (Test-Path $p) { Copy-Item -Force $p $ProgDir }
}
foreach ($d in 'licenses', 'examples') {
	$p = Join-Path $Source $d
	if (Test-Path $p) { Copy-Item -Recurse -Force $p $ProgDir }
}

# 2. Data folder: the service (LocalSystem) runs whatever rules are here,
# so only SYSTEM and Administrators may write; Users may read.  SIDs, not
# names: the names are translated on non-English Windows.
New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
& icacls.exe $DataDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-32-545:(OI)(CI)RX' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls $DataDir failed" }
New-Item -ItemType Directory -Force -Path (Join-Path $DataDir 'sets') | Out-Null
Copy-Item -Force (Join-Path $Source 'sets\*.yaml') (Join-Path $DataDir 'sets')
if (Test-Path $Config) {
	Write-Host "keeping the existing $Config"
} else {
	Copy-Item (Join-Path $Source 'hushgate.yaml') $Config
}

# 3-4. Check, then the service.
Invoke-Hushgate $Exe @('-t', '-c', $Config)
Invoke-Hushgate $Exe @('service', 'install', '-c', $Config)
Invoke-Hushgate $Exe @('service', 'start')

# 5. Proxy settings, with hushgate's backup of the previous values.
$wire = @('winhttp', 'set', '--proxy', $Proxy, '--bypass', $Bypass)
if ($WinINet -ne 'None') { $wire += @('--wininet', $WinINet.ToLower()) }
if (-not $NoTelemetryPolicy) { $wire += '--telemetry-policy' }
Invoke-Hushgate $Exe $wire

# 6. Optionally the same WinHTTP setting through netsh.
if ($Netsh) {
	# Through cmd: PowerShell 5.1 turns a redirected native stderr into a
	# terminating error under ErrorActionPreference Stop.
	& cmd.exe /c 'netsh winhttp show advproxy >nul 2>&1'
	if ($LASTEXITCODE -eq 0) {
		$settings = Join-Path $DataDir 'winhttp-advproxy.json'
		$json = @{ Proxy = $Proxy; ProxyBypass = $Bypass; AutoconfigUrl = ''; AutoDetect = $false } |
		    ConvertTo-Json -Compress
		Set-Content -Path $settings -Value $json -Encoding ASCII
		Write-Host "> netsh winhttp set advproxy setting-scope=machine settings-file=$settings"
		& netsh.exe winhttp set advproxy setting-scope=machine "settings-file=$settings"
	} else {
		Write-Host "> netsh winhttp set proxy proxy-server=$Proxy bypass-list=$Bypass"
		& netsh.exe winhttp set proxy "proxy-server=$Proxy" "bypass-list=$Bypass"
	}
	if ($LASTEXITCODE -ne 0) { throw 'netsh winhttp failed' }
}

# 7. Optional firewall backstop: no direct connections for the telemetry
# programs; loopback (hushgate) stays reachable.
if ($FirewallBackstop) {
	$notLoopback = @('0.0.0.0-126.255.255.255', '128.0.0.0-255.255.255.255',
	    '::', '::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')
	$sys = Join-Path $env:SystemRoot 'System32'
	$rules = @(
		@{ Name = 'DiagTrack service'; Program = (Join-Path $sys 'svchost.exe'); Service = 'DiagTrack' },
		@{ Name = 'CompatTelRunner.exe'; Program = (Join-Path $sys 'CompatTelRunner.exe') },
		@{ Name = 'DeviceCensus.exe'; Program = (Join-Path $sys 'DeviceCensus.exe') },
		@{ Name = 'wermgr.exe'; Program = (Join-Path $sys 'wermgr.exe') },
		@{ Name = 'WerFault.exe'; Program = (Join-Path $sys 'WerFault.exe') }
	)
	Get-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue |
	    Remove-NetFirewallRule
	foreach ($r in $rules) {
		$ruleArgs = @{
			DisplayName = "hushgate: no direct connections for $($r.Name)"
			Group = $FirewallGroup
			Direction = 'Outbound'
			Action = 'Block'
			Program = $r.Program
			RemoteAddress = $notLoopback
			Profile = 'Any'
		}
		if ($r.ContainsKey('Service')) { $ruleArgs.Service = $r.Service }
		New-NetFirewallRule @ruleArgs | Out-Null
		Write-Host "firewall: blocked direct connections of $($r.Name)"
	}
}

Write-Host ''
Write-Host "hushgate is installed and running on $Proxy."
Write-Host "  program:       $ProgDir"
Write-Host "  configuration: $Config (after a change: hushgate service reload)"
Write-Host "  logs:          $DataDir\hushgate.log, $DataDir\decisions.log"
Write-Host "  settings:      `"$Exe`" winhttp show"
Write-Host "  undo:          $ProgDir\Uninstall-Hushgate.ps1"
Write-Host ''
Write-Host 'Store (UWP) apps may not connect to 127.0.0.1 unless exempted.  If one'
Write-Host 'fails after its proxy is set to hushgate (-WinINet), exempt it with:'
Write-Host '    CheckNetIsolation LoopbackExempt -a -n=<PackageFamilyName>'
Write-Host '(names: Get-AppxPackage | Select Name, PackageFamilyName).  The'
Write-Host 'exemption lets that app reach every local server, not only hushgate.'
