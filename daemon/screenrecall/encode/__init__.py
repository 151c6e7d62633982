"""CLIP on OpenVINO: bundle, device, preprocessing, encoders. The only package that imports openvino."""
