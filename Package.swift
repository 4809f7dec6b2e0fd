// swift-tools-version:5.9
// libldm: a Latent Diffusion Model inference engine, shipped as libldm.so with the C API of include/ldm.h.
import PackageDescription

let root = Context.packageDirectory

let package = Package(
    name: "ldm",
    products: [
        .library(name: "ldm", type: .dynamic, targets: ["LDMCAPI"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CLDM", path: "Sources/CLDM"),
        // Vectorised element-wise kernels, AVX2+FMA chosen at run time (baseline x86-64 build).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "LDM", dependencies: ["CBLAS", "CPNG", "CKernels"]),
        // Only the C exports live here. The Swift runtime is linked statically, lld keeps the
        // dynamic symbol table clean, and the version script exports ldm_* alone.
        .target(
            name: "LDMCAPI",
            dependencies: ["LDM", "CLDM"],
            exclude: ["exports.map"],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib", "-use-ld=lld",
                "-Xlinker", "--version-script=\(root)/Sources/LDMCAPI/exports.map",
                "-Xlinker", "-soname=libldm.so.0",
            ])]
        ),
        .executableTarget(name: "ldm-kernel-bench", dependencies: ["LDM", "CBLAS"], path: "Sources/LDMKernelBench"),
        .testTarget(name: "LDMTests", dependencies: ["LDM"]),
    ]
)
