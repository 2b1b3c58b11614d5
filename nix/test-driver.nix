# A NixOS test module that runs the test with vmtest-min instead of the Python
# driver:
#
#   pkgs.testers.runNixOSTest {
#     imports = [ vmtest-min.testModules.default ];
#     name = "hello";
#     nodes.machine = { ... };
#     testScript = ''
#       machine.wait_for_unit("multi-user.target")
#     '';
#   }
#
# It replaces the framework's `driver` (nixos/lib/testing/driver.nix) with a
# `bin/nixos-test-driver` that runs `vmtest-min --config <driverConfigurationFile>
# --log-level <logLevel> --language python`, so that `run.nix`'s
# `nixos-test-driver -o $out` runs the test unchanged. The script is checked
# (`vmtest-min check`) when the driver is built, before any machine boots.
# `tesseract` is on PATH when `enableOCR` is set; `enableDebugHook`,
# `sshBackdoor.enable` and `containers` are refused when the test is evaluated.
{
  config,
  lib,
  hostPkgs,
  ...
}:
let
  cfg = config.vmtestMin;
  # What vmtest-min does not do yet fails when the test is evaluated, not when it
  # runs (`or` keeps the module working with framework versions without them).
  unsupported = [
    {
      when = config.enableDebugHook or false;
      what = "enableDebugHook (run.nix passes --debug-hook-attach)";
    }
    {
      when = config.sshBackdoor.enable or false;
      what = "sshBackdoor.enable (the SSH backdoor over vsock)";
    }
    {
      when = (config.containers or { }) != { };
      what = "containers (systemd-nspawn machines)";
    }
  ];
  refuse =
    value:
    builtins.foldl' (
      result: item: lib.throwIf item.when "vmtest-min does not support ${item.what} yet" result
    ) value unsupported;
  # As the NixOS driver has it: tesseract with English only, when OCR is enabled.
  ocr = lib.optional (config.enableOCR or false) (
    hostPkgs.tesseract.override { enableLanguages = [ "eng" ]; }
  );
in
{
  options.vmtestMin = {
    package = lib.mkOption {
      type = lib.types.package;
      default = hostPkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "hostPkgs.callPackage ./package.nix { }";
      description = "The vmtest-min package that runs the test.";
    };
    extraArgs = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "--timeout-scale"
        "3"
      ];
      description = "More command-line arguments for vmtest-min.";
    };
  };

  config.driver = lib.mkForce (
    refuse (hostPkgs.runCommand "vmtest-min-driver-${config.name}"
      {
        nativeBuildInputs = [ hostPkgs.makeWrapper ];
        passthru = config.passthru;
        meta = config.meta // {
          mainProgram = "nixos-test-driver";
        };
      }
      ''
        mkdir -p $out/bin
        cp ${config.driverConfiguration.test_script} $out/test-script
        ${lib.getExe cfg.package} check --color never --language python \
          --config ${config.driverConfigurationFile}
        makeWrapper ${lib.getExe cfg.package} $out/bin/nixos-test-driver \
          --prefix PATH : ${lib.makeBinPath ([ hostPkgs.vde2 ] ++ ocr)} \
          --add-flags "--config ${config.driverConfigurationFile}" \
          --add-flags "--log-level ${config.logLevel}" \
          --add-flags "--language python" \
          ${lib.escapeShellArgs (
            lib.concatMap (arg: [
              "--add-flags"
              arg
            ]) (cfg.extraArgs ++ config.extraDriverArgs)
          )}
      ''
    )
  );
}
