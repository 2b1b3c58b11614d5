{
  description = "vmtest-min: a small, synchronous driver for NixOS-style QEMU VM tests";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
        vmtest-min = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        static = pkgs.pkgsStatic.callPackage ./nix/package.nix { };
      });

      # A module for NixOS tests (pkgs.testers.runNixOSTest): run them with vmtest-min.
      testModules.default = ./nix/test-driver.nix;
    };
}
