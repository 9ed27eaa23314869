"""Still images, the first output kind (``kind.py``): observed, compared, kept. No pytest here.

A prompt's output images are compared with the images accepted earlier, not byte for byte
(a GPU is not bit-exact from run to run) but by summaries that survive tiny pixel noise and
change when the picture does. Each image is decoded once (``image.py``), reduced to an entry
(``entries.py``) and summarised by
every metric of ``metrics.METRICS``, and its reference image (a lossless downscale to a long
side of 256 px, kept beside the entry) is compared with the baseline's by every metric of
``metrics.REFERENCE_METRICS``, because each is blind where another sees:

- **size**: width x height, compared exactly (the entry's own);
- **hash** (``metrics/hash.py``): imagehash's perceptual hash, phash-8 by default;
- **colour** (``metrics/colour.py``): the mean R, G, B of each cell of a 4x4 grid;
- **sharpness** (``metrics/sharpness.py``): the mean absolute neighbour difference;
- **ssim**, **ssim_tile** (``metrics/ssim.py``): 1 - SSIM (scikit-image) of the references,
  over the image and over its worst tile of an 8x8 grid;
- **ciede2000**, **ciede2000_tile** (``metrics/ciede2000.py``): the CIEDE2000 colour difference
  (scikit-image) of the references, mean and worst tile.

An image matches when its size is the same and each distance is at most its threshold. The
defaults of the reference metrics (0.02, 0.1, 1.0, 3.0) and the choice of 256 px come from
``bench/baseline_study.py`` against servers that compute the same picture another way
(docs/baselines-study.md: every harmless variant passes, 240 of 240 regressions fail). An entry
recorded before references existed is compared by the first four, with a hint.
The hash, colour and sharpness defaults come from the first study (``bench/baseline_study_hashes.py``)
against the development ComfyUI (CPU; 6 seeds or colours per kind: 512x512 noise images,
512x512 flat-colour images, 64x64 images of the generated SD1.5 checkpoint; 144 reruns,
66 visible same-size perturbations):

    distance                          phash-8        colour        sharpness
    rerun, cache freed                0              0             0
    rerun + ±1 / ±2 pixel noise       0-4            <= 0.44       <= 1.10
      (±4, for the margin)            0-2            <= 0.59       <= 1.99
    another seed (noise / SD)         26-36 / 22-40  1.9-2.9 / 76+ ~0
    colour red +16 (noise/flat/SD)    2-4 / 0 / 0-2  8.7-11 / 15+ / 16
    blur radius 1 -> 2 (noise)        0-4            <= 0.1        7.0-8.1
    blur added (SD)                   0-2            1.3-2.2       7.0-8.9
    5 % crop scaled back (noise/SD)   8-18 / 2-10    0.5-1 / 10.6+ 2.4-2.8 / 3.7-4.5
    steps 4 -> 5 (SD)                 0-2            3.3-6.4       <= 0.24
    5 % crop, 5 % resize, other size  the pixel size differs (phash-8 of a 5 % resize: 0-4)

    hash threshold 6        reruns reach 4, the closest change the hash sees is 8
    colour threshold 2.0    reruns <= 0.59, closest change only colour sees 3.3 (steps)
    sharpness threshold 3.0 reruns <= 1.99 (flat + ±4 noise), closest change only sharpness
                            sees 7.0 (a blur radius)

On its own the hash cannot separate a colour shift or a blur change of a noise image (2-4)
from rerun noise (up to 4). A change of a flat image that moves no pixel by more than rerun
noise does (a blur of a flat image) cannot be seen in any image; the study lists it as such.
Another hash algorithm or size gets the phash-8 threshold scaled to its number of bits.

Importing this package imports nothing; the modules that read pixels load numpy, Pillow and
imagehash, and scikit-image is loaded by the first comparison of two references that differ.
"""
