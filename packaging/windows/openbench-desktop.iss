; Inno Setup script for OpenBench Desktop on Windows (Inno Setup 6.2 or newer).
;
; First build the one-folder app on Windows (see docs/PACKAGING.md):
;   .venv\Scripts\python -m PyInstaller --noconfirm packaging\openbench-desktop.spec
; then, from the repository root:
;   iscc /DAppVersion=0.1.0 packaging\windows\openbench-desktop.iss
; which writes dist\openbench-desktop-<version>-windows-x64-setup.exe.
;
; Installs per user by default (no administrator rights; the user may choose "all users"
; in the first dialog). The user's runs, settings and logs live in
; %LOCALAPPDATA%\openbench-desktop (platformdirs) and are never removed by the uninstaller.

#define AppName "OpenBench Desktop"
#define AppExe "openbench-desktop.exe"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
; Never change AppId: Windows recognises upgrades of the same app by it.
AppId={{610CE48E-A161-4A93-AD4D-22810B1B4508}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=OpenBench
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=openbench-desktop-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\openbench-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; The app may be running when upgrading: offer to close it.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller folder: openbench-desktop.exe (windowed), openbench-desktop-cli.exe
; (console: --version, --smoke and the command line) and _internal\.
Source: "..\..\dist\openbench-desktop\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundled libraries wholesale: stale files from an older
; PyInstaller layout must not shadow the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
