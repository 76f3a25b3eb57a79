#Requires -Version 5.1
<#
.SYNOPSIS
Removes what Install-Hushgate.ps1 did, in reverse order.

.DESCRIPTION
In an elevated PowerShell (Run as administrator):

    powershell -ExecutionPolicy Bypass -File "$env:ProgramFiles\hushgate\Uninstall-Hushgate.ps1"

 1. hushgate.exe winhttp reset: the WinHTTP, WinINet and policy values are
    restored byte for byte from %ProgramData%\hushgate\winhttp-backup.reg
    (taken before the first change), not set to Windows' defaults.  Done
    first, so that nothing points at a proxy that is about to stop.
 2. The firewall rules of the group "hushgate backstop" are removed.
 3. hushgate.exe service stop, then service uninstall (the service and its
    Event Log source).
 4. %ProgramFiles%\hushgate is removed.
 5. %ProgramData%\hushgate (configuration, logs, the restored backup) is
    kept unless -RemoveData is given.

.PARAMETER RemoveData
Also remove %ProgramData%\hushgate.

.PARAMETER KeepSettings
Leave the proxy settings as they are (no winhttp reset).
#>
[CmdletBinding()]
param(
	[switch]$RemoveData,
	[switch]$KeepSettings
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$FirewallGroup = 'hushgate backstop'
$ProgDir = Join-Path $env:ProgramFiles 'hushgate'
$DataDir = Join-Path $env:ProgramData 'hushgate'
$Exe = Join-Path $ProgDir 'hushgate.exe'
$Backup = Join-Path $DataDir 'winhttp-backup.reg'

function Test-Elevated {
	$id = [Security.Principal.WindowsIdentity]::GetCurrent()
	$p = New-Object Security.Principal.WindowsPrincipal($id)
	return $p.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Invoke-Hushgate {
	param([string[]]$Arguments)
	Write-Host "> hushgate $($Arguments -join ' ')"
	& $Exe @Arguments
	if ($LASTEXITCODE -ne 0) {
		throw "hushgate $($Arguments -join ' ') failed (exit $LASTEXITCODE)"
	}
}

if (-not (Test-Elevated)) {
	throw 'Run this script from an elevated PowerShell (Run as administrator).'
}
if (-not (Test-Path $Exe)) {
	throw "$Exe not found: hushgate is not installed (or was installed elsewhere)"
}

# 1. Proxy settings back to what they were.
if ($KeepSettings) {
	Write-Host "proxy settings left as they are; $Backup can restore them later"
} elseif (Test-Path $Backup) {
	Invoke-Hushgate @('winhttp', 'reset')
} else {
	Write-Host "no $Backup`: the proxy settings were not changed by hushgate (or were restored already)"
}

# 2. Firewall backstop rules, if any were added.
$rules = @(Get-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue)
if ($rules.Count -gt 0) {
	$rules | Remove-NetFirewallRule
	Write-Host "firewall: removed $($rules.Count) rules of the group '$FirewallGroup'"
}

# 3. The service: status exits 4 when it is not installed.
& $Exe service status | Out-Null
if ($LASTEXITCODE -ne 4) {
	Invoke-Hushgate @('service', 'stop')
	Invoke-Hushgate @('service', 'uninstall')
}

# 4. Program files.  This script may be running from there: PowerShell has
# read it already, so removing it is fine.
Remove-Item -Recurse -Force $ProgDir
Write-Host "removed $ProgDir"

# 5. Data.
if ($RemoveData) {
	Remove-Item -Recurse -Force $DataDir
	Write-Host "removed $DataDir"
} else {
	Write-Host "kept $DataDir (configuration and logs; -RemoveData removes it)"
}
