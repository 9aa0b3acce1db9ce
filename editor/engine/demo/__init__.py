"""The bundled demo model: its training data generator, tokenizer, architecture and trainer.

The trained weights live in resources/demo_model (a standard diffusers folder that
``editor.engine.models.load_model("demo")`` loads); see README.md beside this file.
"""
