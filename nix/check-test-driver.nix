# Evaluates nix/test-driver.nix against small stand-ins for nixpkgs' `lib` and
# `hostPkgs` (no nixpkgs is needed), and checks the driver it builds: what the
# wrapper passes to vmtest-min and that the script is checked at build time.
#
#   nix-instantiate --eval --strict nix/check-test-driver.nix   # prints true
#
# This checks the module's own logic only; that nixpkgs accepts it is not
# evaluated here (see README, "Nix").
let
  stubLib = {
    mkOption = option: option;
    mkForce = value: {
      _type = "override";
      priority = 50;
      content = value;
    };
    literalExpression = text: text;
    types = {
      package = "package";
      str = "str";
      listOf = type: "listOf ${type}";
    };
    getExe = package: "${package}/bin/${package.meta.mainProgram}";
    makeBinPath = packages: builtins.concatStringsSep ":" (map (p: "${p}/bin") packages);
    escapeShellArgs = args: builtins.concatStringsSep " " (map (arg: "'${arg}'") args);
    concatMap = f: list: builtins.concatLists (map f list);
    optional = cond: value: if cond then [ value ] else [ ];
    throwIf = cond: message: value: if cond then throw message else value;
  };
  package = {
    outPath = "/nix/store/0000-vmtest-min";
    meta.mainProgram = "vmtest-min";
  };
  hostPkgs = {
    callPackage = _: _: package;
    makeWrapper = "/nix/store/0000-make-wrapper";
    vde2 = "/nix/store/0000-vde2";
    tesseract.override = args: "/nix/store/0000-tesseract-${builtins.concatStringsSep "+" args.enableLanguages}";
    runCommand = name: attrs: script: { inherit name attrs script; };
  };
  config = {
    name = "hello";
    logLevel = "info";
    extraDriverArgs = [
      "--timeout-scale"
      "3"
    ];
    passthru = { };
    meta = { };
    driverConfiguration.test_script = "/nix/store/0000-test-script";
    driverConfigurationFile = "/nix/store/0000-driverConfiguration.json";
    vmtestMin = {
      inherit package;
      extraArgs = [ "--no-serial" ];
    };
  };
  moduleWith =
    changes:
    import ./test-driver.nix {
      inherit hostPkgs;
      config = config // changes;
      lib = stubLib;
    };
  module = moduleWith { };
  driver = module.config.driver;
  script = driver.content.script;
  ocrScript = (moduleWith { enableOCR = true; }).config.driver.content.script;
  # Whether evaluating the driver with `changes` fails (at evaluation time).
  refused =
    changes: !(builtins.tryEval (moduleWith changes).config.driver.content.script).success;
  has = text: builtins.match ".*${text}.*" script != null;
  checks = {
    forced = driver._type == "override" && driver.priority == 50;
    named = driver.content.name == "vmtest-min-driver-hello";
    mainProgram = driver.content.attrs.meta.mainProgram == "nixos-test-driver";
    packageDefault = module.options.vmtestMin.package.default == package;
    checkedAtBuild = has "/nix/store/0000-vmtest-min/bin/vmtest-min check --color never --language python \\\\\n *--config /nix/store/0000-driverConfiguration.json";
    wrapper = has "makeWrapper /nix/store/0000-vmtest-min/bin/vmtest-min [$]out/bin/nixos-test-driver";
    vde = has "--prefix PATH : /nix/store/0000-vde2/bin";
    config = has "--add-flags \"--config /nix/store/0000-driverConfiguration.json\"";
    logLevel = has "--add-flags \"--log-level info\"";
    language = has "--add-flags \"--language python\"";
    extra = has "'--add-flags' '--no-serial' '--add-flags' '--timeout-scale' '--add-flags' '3'";
    noOcrByDefault = !has "tesseract";
    ocr =
      builtins.match ".*--prefix PATH : /nix/store/0000-vde2/bin:/nix/store/0000-tesseract-eng/bin.*" ocrScript
      != null;
    debugHookRefused = refused { enableDebugHook = true; };
    sshBackdoorRefused = refused { sshBackdoor.enable = true; };
    containersRefused = refused { containers.c = { }; };
    plainAccepted = !(refused {
      enableDebugHook = false;
      sshBackdoor.enable = false;
      containers = { };
    });
    testScript = has "cp /nix/store/0000-test-script [$]out/test-script";
  };
  failed = builtins.filter (name: !checks.${name}) (builtins.attrNames checks);
in
if failed == [ ] then true else throw "nix/test-driver.nix: failed checks: ${toString failed}\n${script}"
