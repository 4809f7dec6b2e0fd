"""libldm for Python: Latent Diffusion Model inference (encode, sample, decode) on numpy arrays.

    import ldm
    with ldm.Model("vae.safetensors") as m:
        latent = m.encode(ldm.read_png("in.png"))
        ldm.write_png("out.png", m.decode(latent))
    with ldm.Model("ldm_pipeline_folder") as m:
        ldm.write_png("sample.png", m.generate(steps=50, sampler="ddim", seed=1))
    with ldm.Model("stable_diffusion_folder_or.gguf") as m:
        ldm.write_png("cat.png", m.txt2img("a photo of a cat", negative_prompt="blurry", steps=30, seed=1))
        ldm.write_png("dog.png", m.img2img(ldm.read_png("cat.png"), "a photo of a dog", strength=0.6))

The library is found through LDM_LIBRARY_PATH, a copy inside this package, or the system's
library path, and loaded on first use. The converter (ldm.convert, ldm-convert) needs no library.
"""
from ._capi import (LDM_ERR_BAD_MAGIC, LDM_ERR_CANCELLED, LDM_ERR_CORRUPT, LDM_ERR_INVALID_ARGUMENT, LDM_ERR_IO,
                    LDM_ERR_MODEL, LDM_ERR_NOT_FOUND, LDM_ERR_OUT_OF_MEMORY, LDM_ERR_SHAPE, LDM_ERR_UNSUPPORTED,
                    LDM_LOG_DEBUG, LDM_LOG_ERROR, LDM_LOG_INFO, LDM_LOG_WARN, LDM_OK)
from .model import SAMPLERS, LDMError, Model, ModelInfo, read_png, set_log, version, write_png

__version__ = "0.1.0"

__all__ = [
    "LDMError", "Model", "ModelInfo", "SAMPLERS", "read_png", "write_png", "version", "set_log", "__version__",
    "LDM_OK", "LDM_ERR_INVALID_ARGUMENT", "LDM_ERR_NOT_FOUND", "LDM_ERR_IO", "LDM_ERR_BAD_MAGIC", "LDM_ERR_CORRUPT",
    "LDM_ERR_UNSUPPORTED", "LDM_ERR_MODEL", "LDM_ERR_SHAPE", "LDM_ERR_OUT_OF_MEMORY", "LDM_ERR_CANCELLED",
    "LDM_LOG_DEBUG", "LDM_LOG_INFO", "LDM_LOG_WARN", "LDM_LOG_ERROR",
]
