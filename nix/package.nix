# vmtest-min as a Nix package.
#
#   pkgs.callPackage ./nix/package.nix { }             # dynamically linked (glibc)
#   pkgs.pkgsStatic.callPackage ./nix/package.nix { }  # fully static (musl)
#
# The test suite boots QEMU guests that tests/guest/build.sh assembles from Debian
# packages, which the build sandbox cannot do: the package runs no tests. The
# binary needs `vde_switch` (vde2) on PATH for vlans; nix/test-driver.nix puts it
# there.
{
  lib,
  rustPlatform,
  installShellFiles,
}:

rustPlatform.buildRustPackage {
  pname = "vmtest-min";
  version = (lib.importTOML ../Cargo.toml).package.version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      ../tests
      ../man
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ installShellFiles ];

  doCheck = false;

  postInstall = ''
    installManPage man/vmtest-min.1
  '';

  meta = {
    description = "A small, synchronous driver for NixOS-style QEMU VM tests";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "vmtest-min";
  };
}
