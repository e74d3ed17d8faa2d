"""Files: the clip's frames and masks in, the result out.

``from vidfill import io`` gives the names below, from the modules that hold them:

- :mod:`.clips`: what a clip is (:class:`VideoInfo`, :class:`ClipSource`, :func:`clip_range`);
- :mod:`.inputs`: the input clip, opened for streaming or read whole, and painted frames;
- :mod:`.masks`: the hole masks, and an overlay given as an RGBA image;
- :mod:`.outputs`: writing a video or an image sequence, and the checks made before any work;
- :mod:`.video`: video files (PyAV: decoding, encoding, audio);
- :mod:`.images`: image files and image sequences (OpenCV; OpenEXR for .exr);
- :mod:`.colour`: sample types and colour encodings (full depth, scene-linear, premultiplied).

Also here, used by their own module name: :mod:`.safety` (what keeps the user's files safe when
vidfill writes), :mod:`.workdir` (the work directory of a resumable run), :mod:`.layers` (fill
layers, compositing and the preview). The modules' other names, and :mod:`.messages` (the
pieces of io's one-line errors), are shared between them only.

Frames are ``(T, 3, H, W)`` uint8 RGB tensors on the CPU, masks ``(T, 1, H, W)`` bool tensors
(True = hole). A deep source (16-bit or float images, 10-bit video) is also read at full depth
(:func:`iter_frames` with ``deep``), converted for the pipeline by :func:`work_frame` and back
by :func:`native_frame`. Every problem with the user's files is raised as a one-line
:class:`~vidfill.errors.VidfillError` that names the file.
"""

from vidfill.io.clips import ClipSource, VideoInfo, clip_range
from vidfill.io.colour import GAMMA, native_dtype, native_frame, premultiplied, work_frame
from vidfill.io.images import (IMAGE_EXTENSIONS, SEQUENCE_FORMATS, numeric_sorted, read_image,
                               write_image)
from vidfill.io.inputs import DEFAULT_FPS, iter_frames, open_clip, read_frames, read_reference
from vidfill.io.masks import PackedMasks, iter_masks, mask_files, read_masks, read_overlay_image
from vidfill.io.outputs import (IMAGE_FORMATS, SEQUENCE_PADDING, Progress, check_image_folder,
                                check_output, check_video_target, frame_names, is_sequence_folder,
                                output_depth, write_image_folder, write_output, write_stream)
from vidfill.io.video import DEFAULT_CRF, MAX_CRF, VIDEO_EXTENSIONS, WRITTEN_BY, written_by_vidfill

__all__ = [
    "ClipSource", "VideoInfo", "clip_range",
    "GAMMA", "native_dtype", "native_frame", "premultiplied", "work_frame",
    "IMAGE_EXTENSIONS", "SEQUENCE_FORMATS", "numeric_sorted", "read_image", "write_image",
    "DEFAULT_FPS", "iter_frames", "open_clip", "read_frames", "read_reference",
    "PackedMasks", "iter_masks", "mask_files", "read_masks", "read_overlay_image",
    "IMAGE_FORMATS", "SEQUENCE_PADDING", "Progress", "check_image_folder", "check_output",
    "check_video_target", "frame_names", "is_sequence_folder", "output_depth",
    "write_image_folder", "write_output", "write_stream",
    "DEFAULT_CRF", "MAX_CRF", "VIDEO_EXTENSIONS", "WRITTEN_BY", "written_by_vidfill",
]
